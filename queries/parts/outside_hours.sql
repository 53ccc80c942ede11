          -- the edges of the period that whole rollup hours do not cover ([h_start, h_end) is empty
          -- when the rollup cannot answer: then this is the whole period)
          AND e.ts >= {start:DateTime64(3, 'UTC')} AND e.ts < {end:DateTime64(3, 'UTC')}
          AND NOT (e.ts >= {h_start:DateTime('UTC')} AND e.ts < {h_end:DateTime('UTC')})
