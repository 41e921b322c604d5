"""The publishing step: interval reports and sensor readings become table rows.

blocks (a stream's report -> its four linked blocks), streams (one stream's analyzer and life
cycle -> rows), temperature (readings -> thresholds, status, trend), sensors (a sensor scan ->
temperatureTable rows). Pure: time and readings are given; the rows are the agent's records
(iec62379.agent.model), written to the block store by the service.
"""
