"""ftl-mock: a stateful mock of the FineTune Lab training API, served from `spec/openapi.yaml`.

Layers, each importing only from the layers above it (tests/test_architecture.py holds the code to this):

1. `wire` (JSON and time stamps as the platform writes them), `settings`, `protocol` (uvicorn's HTTP protocol
   with the limits it lacks), `admin_routes` (the admin API's route table), `counters` (plain counters the
   request path and streams update): nothing of the mock; `client` (the admin API's client, offered to users'
   tests) only the route table.
2. `samples`, `ratelimit`, `faults`, `journal`, `errors`, `validation`, `access` (the Host check and
   the admin API's rules), `signing` (signed download URLs): one concept each.
3. `store/` (tables, `store.table` is the base of each), `auth`, `sse` (stream framing and the hub).
4. `scenarios/` (scripted streams: model < parser < library; feed < player < bindings).
5. `state`: one mock's parts in typed fields; `context`: what a resource handler receives.
6. `resources/`: behaviour per resource, keyed by operationId; `metrics` (the Prometheus collector over the
   counters) and `inspector/` (the page at `/__mock/` and its live feed): read the state.
7. `dispatch` (the contract's request path), `admin` (the handlers of the `/__mock/` routes, its router), `app`.
8. `cli`, `__main__`; `process` (the launcher other packages use) imports only `client` and the route table.
"""
