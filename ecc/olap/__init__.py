"""ClickHouse: schema, rollups, drill-down analytics, and the fault taxonomy of the stores."""
