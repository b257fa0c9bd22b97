"""The reference city (and central) traceability platform: a real HTTP server with real storage.

Modules, one concept each: ``config`` (validated start-up settings), ``storage``
(repository layer: SQLite/PostgreSQL + migrations), ``registry`` (nodes,
operators, keys), ``recordmap`` (what the platform reads from each record
type), ``ingest`` (DataExchangeReq → per-record verdicts, committed before the
answer), ``trace`` (the chain behind a 20-digit code), ``monitor`` (online
status), ``stats`` (per node/day/commodity and KPIs), ``stoptrade`` (the
stop-trade broadcast), ``feed`` (city → central), ``pages`` (the consumer's
trace page), ``app`` (FastAPI app factory), ``server`` (uvicorn runner).
"""
