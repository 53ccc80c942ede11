-- Lead counts of one window [start, end) for the alert rules (docs/alerts.md "Detection"), per the lead
-- event's own channel: leads (metrics.md `leads`) and, of those, the ones with a call before `asof`
-- (`dialed_leads` as of that moment), read from the rollup lead_calls for the window's leads only.
SELECT toString(channel) AS channel,
       uniqExact(lead_id) AS leads,
       uniqExactIf(lead_id, lead_id IN (SELECT lead_id FROM lead_calls
                                        WHERE first_call < {asof:DateTime64(3, 'UTC')}
                                          AND lead_id IN (SELECT lead_id FROM events
                                                          WHERE type = 'lead'
                                                            AND ts >= {start:DateTime64(3, 'UTC')}
                                                            AND ts < {end:DateTime64(3, 'UTC')}))) AS dialed
FROM events
WHERE type = 'lead' AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
GROUP BY channel
