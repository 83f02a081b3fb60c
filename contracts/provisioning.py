"""Provisioning: before fuzzing, create through the API what the selected operations need to reach success.

A job the gate owns (filled with predictions, metrics and logs through its own token), a dataset, a
config, a baseline and a batch run, each created with its creator's request example from the spec and
the caller's credentials, or taken from `--existing kind=id`. The spec's links say which parameter of
which operation names each resource; `bindings` turns that into Schemathesis dictionary bindings, so
generated requests use the real ids most of the time. Nothing here uses the mock's admin API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from contracts.credentials import ISSUED_TOKEN_FIELD, Authenticator
from contracts.examples import example_files, form_parts, is_form, request_example, success_example
from contracts.results import Results
from spec import Contract, Operation, pointers
from spec.pointers import replaced, substituted

RESPONSE_BODY = "$response.body#"
# Probability that a generated value of a bound parameter is replaced by the provisioned id.
BINDING_PROBABILITY = 0.8
SPARE = "_spare"


@dataclass(frozen=True)
class Kind:
    """A resource the gate creates: its name, the operation that creates it, and how its request is made unique."""

    name: str
    creator: str
    # Request-body pointer -> (field name, value with `{run}`): keeps the gate's resources apart from others'.
    unique: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # Extra fields read from the creator's answer: field name -> response pointer.
    fields: Mapping[str, str] = field(default_factory=dict)
    # Request-body pointer -> the kind whose id that field of the creator's request names.
    refs: Mapping[str, str] = field(default_factory=dict)
    # Kinds provisioned first: those `refs` name, and what the creator needs to exist besides.
    needs: tuple[str, ...] = ()
    # Why no user owns this kind by contract (no ownership to check); None when each one has an owner.
    shared: str | None = None
    # A cloud deployment, billed by its provider: created only on the embedded mock (else `--existing`),
    # and kept from the fuzzer and the lifecycles (its delete stops it; a stopped deployment is still read).
    billed: bool = False


def _deployment(name: str, creator: str, *needs: str) -> Kind:
    return Kind(name, creator, refs={"/training_config_id": "config"}, needs=("config", *needs), billed=True)


# The resources the gate creates, keyed by the operation that creates each: the one place that knows them.
KINDS: tuple[Kind, ...] = (
    Kind("job", "create_job", fields={"token": f"/{ISSUED_TOKEN_FIELD}", "user_id": "/user_id"}),
    Kind("config", "create_config"),
    Kind("dataset", "upload_dataset", refs={"/config_id": "config"}),
    Kind(
        "baseline",
        "create_baseline",
        unique={"/modelName": ("model_name", "gate-{run}")},
        shared="baselines are shared by every user (§9: the contract keeps them unscoped)",
    ),
    Kind("batch", "run_batch_test", refs={"/config/dataset_id": "dataset"}, needs=("dataset",)),
    # A pod trains the datasets attached to its configuration (§8.1), so the dataset comes first.
    _deployment("runpod", "create_runpod_deployment", "dataset"),
    _deployment("hf_spaces", "create_hf_spaces_deployment"),
    _deployment("colab", "create_google_colab_deployment"),
    _deployment("kaggle", "create_kaggle_deployment"),
    _deployment("sagemaker", "create_sagemaker_deployment"),
)
BY_NAME = {kind.name: kind for kind in KINDS}
# Operations that fill a new job with data (each sent its spec example with the job's token):
# predictions (three, over two epochs, so epochs and trends have something to aggregate), a metric, logs.
# Each is sent its spec example once per variant (request-body pointer -> value): at least two rows each,
# so that a paginated read has something to page.
JOB_FILLERS: Mapping[str, tuple[Mapping[str, Any], ...]] = {
    "create_predictions": ({},),
    "record_metric": ({"/step": 1}, {"/step": 2}),
    "append_logs": ({},),
}
PREDICTION_ROWS = ((1, 0), (1, 1), (2, 0))  # (epoch, sample_index) of each uploaded prediction
# Operations that take a job out of `running` (or need it out): they work on a spare job, so that the
# operations that need a running job (update_job_params) still reach success whatever the order.
SPARE_USERS = ("update_job_status", "control_job", "resume_job")
# A body property that names the job's owner: the platform stores items under their own `user_id` (§2.5).
OWNER_FIELD, OWNER_DICTIONARY, OWNER_VALUE = "user_id", "job_user", "job.user_id"
# Request-body pointers of the batch run's sources (§10.2): one of them is required.
BATCH_SUITE, BATCH_DATASET = "/config/test_suite_id", "/config/dataset_id"
# The other user's own job (created with --other-api-key or --other-bearer): its values are `other.*`.
OTHER = "other"
# Every placeholder a probe may use, with a value of its kind (to check probes against their conditions).
PLACEHOLDERS: Mapping[str, str] = {
    "run": "0123456789",
    "job.id": "job_sample",
    "job.token": "sample-token",
    "job.user_id": "00000000-0000-4000-8000-000000000000",
    "dataset.id": "00000000-0000-4000-8000-000000000001",
    "config.id": "00000000-0000-4000-8000-000000000002",
    "baseline.id": "00000000-0000-4000-8000-000000000003",
    "baseline.model_name": "gate-sample",
    "batch.id": "00000000-0000-4000-8000-000000000004",
    "runpod.id": "00000000-0000-4000-8000-000000000005",
    "hf_spaces.id": "someone/sample-space",
    "colab.id": "colab-0000000000000-sample",
    "kaggle.id": "someone/sample-notebook",
    "sagemaker.id": "ftl-sample-0000000000000",
    "other.job_id": "job_other_sample",
    "other.job_token": "other-sample-token",
    "other.user_id": "00000000-0000-4000-8000-000000000006",
}
EXISTING_KINDS = (*BY_NAME, "test_suite")


@dataclass
class Resources:
    """Values of what was provisioned (`job.id` -> …) and, per kind, why it could not be."""

    run: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    values: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def placeholders(self) -> dict[str, str]:
        """Every value by placeholder name, `run` included."""
        return {"run": self.run, **self.values}

    def has(self, kind: str) -> bool:
        """True when an id of `kind` is available."""
        return f"{kind}.id" in self.values


def id_pointer(operation: Operation) -> str:
    """The response pointer of the created resource's id, read from the creator's links."""
    for link in operation.success.links.values():
        for expression in [*(link.get("parameters") or {}).values(), *_body_expressions(link)]:
            if isinstance(expression, str) and expression.startswith(RESPONSE_BODY):
                return expression.removeprefix(RESPONSE_BODY)
    raise ValueError(f"{operation.operation_id} links to no operation with an id from its response")


def _body_expressions(link: Mapping[str, Any]) -> list[Any]:
    body = link.get("requestBody")
    return list(body.values()) if isinstance(body, Mapping) else []


# --- which parameter names which resource --------------------------------------------------------


def named_resources(contract: Contract) -> dict[str, dict[str, str]]:
    """Per operation, each parameter that names a resource (`path.jobId`, `body.predictions[*].job_id`) -> its kind.

    From the links of each creator: a parameter filled from the creator's id names that resource. A name
    that only ever names one resource (`jobId`, `job_id`) names it wherever it appears, at any depth of a
    body, except in the creators' own bodies; `user_id` beside a job names the job's owner
    (`OWNER_DICTIONARY`). Every kind counts here, billed and shared ones too.
    """
    linked: dict[str, dict[str, str]] = {}
    names: dict[str, set[str]] = {}
    for kind in KINDS:
        creator = contract.operation(kind.creator)
        pointer = id_pointer(creator)
        for link in creator.success.links.values():
            target = contract.operations.get(str(link.get("operationId")))
            if target is None:
                continue
            for name, expression in (link.get("parameters") or {}).items():
                parameter = target.parameter(str(name))
                if parameter is not None and expression == RESPONSE_BODY + pointer:
                    linked.setdefault(target.operation_id, {})[f"{parameter.location}.{name}"] = kind.name
                    names.setdefault(str(name), set()).add(kind.name)
            body = link.get("requestBody")
            for name, expression in body.items() if isinstance(body, Mapping) else ():
                if expression == RESPONSE_BODY + pointer:
                    linked.setdefault(target.operation_id, {})[f"body.{name}"] = kind.name
                    names.setdefault(str(name), set()).add(kind.name)
    unique = {name: next(iter(kinds)) for name, kinds in names.items() if len(kinds) == 1}
    creators = {kind.creator for kind in KINDS}
    found: dict[str, dict[str, str]] = {}
    for operation in contract.operations.values():
        keys = dict(linked.get(operation.operation_id, {}))
        for parameter in operation.parameters:
            if parameter.name in unique and parameter.location in ("path", "query"):
                keys.setdefault(f"{parameter.location}.{parameter.name}", unique[parameter.name])
        if operation.operation_id not in creators:
            for path, name in _body_names(operation):
                if name in unique:
                    keys.setdefault(f"body.{path}", unique[name])
                elif name == OWNER_FIELD and "job" in unique.values():
                    keys.setdefault(f"body.{path}", OWNER_DICTIONARY)
        if keys:
            found[operation.operation_id] = keys
    return found


def kind_of(name: str) -> Kind:
    """The kind a `named_resources` value stands for (the owner of a job stands for the job)."""
    return BY_NAME["job" if name == OWNER_DICTIONARY else name]


def bindings(contract: Contract) -> dict[str, dict[str, str]]:
    """Per operation, Schemathesis binding keys -> dictionary: `named_resources` without the billed kinds.

    DELETE operations get a spare resource of their own, so a delete cannot take the one the other
    operations read away in the middle of the run; so do the operations that change a job's state
    (`SPARE_USERS`).
    """
    found: dict[str, dict[str, str]] = {}
    for operation_id, named in named_resources(contract).items():
        keys = {key: name for key, name in named.items() if not kind_of(name).billed}
        if keys:
            operation = contract.operation(operation_id)
            spare = operation.method == "DELETE" or operation_id in SPARE_USERS
            found[operation_id] = {key: value + (SPARE if spare else "") for key, value in keys.items()}
    return found


def _body_names(operation: Operation) -> list[tuple[str, str]]:
    body = operation.request_body
    media = body.content.get("application/json") if body is not None else None
    raw = media.schema.raw if media is not None and media.schema is not None else None
    return list(_walk(raw, ""))


def _walk(schema: Any, prefix: str) -> Iterable[tuple[str, str]]:
    if not isinstance(schema, Mapping):
        return
    for name, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else str(name)
        yield path, str(name)
        yield from _walk(sub, path)
        if isinstance(sub, Mapping) and isinstance(sub.get("items"), Mapping):
            yield from _walk(sub["items"], f"{path}[*]")
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or ():
            yield from _walk(sub, prefix)


def needed(bound: Mapping[str, Mapping[str, str]], operations: Iterable[str]) -> set[str]:
    """The dictionaries (`job`, `config_spare`, …) the selected operations are bound to."""
    return {dictionary for op in operations for dictionary in bound.get(op, {}).values()}


def dictionaries(resources: Resources, wanted: Iterable[str]) -> dict[str, list[str]]:
    """Schemathesis dictionaries: name -> the provisioned value, for every wanted one that exists."""
    found = {}
    for name in wanted:
        key = value_key(name)
        if key in resources.values:
            found[name] = [resources.values[key]]
    return found


def value_key(dictionary: str) -> str:
    """The provisioned value a dictionary holds: `job` -> `job.id`, `job_user` -> `job.user_id`."""
    return OWNER_VALUE if dictionary == OWNER_DICTIONARY else f"{dictionary}.id"


# --- creating --------------------------------------------------------------------------------------


class Provisioner:
    """Creates resources through the API with the gate's credentials; every request is counted."""

    def __init__(
        self,
        contract: Contract,
        auth: Authenticator,
        base_url: str,
        results: Results,
        *,
        existing: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        billed: bool = False,
    ) -> None:
        self.contract = contract
        self.auth = auth
        self.base_url = base_url.rstrip("/")
        self.results = results
        self.existing = dict(existing or {})
        self.timeout = timeout
        # Create billed kinds too (only where nothing is billed: the embedded mock).
        self.billed = billed
        self.resources = Resources()

    def provision(self, kinds: Iterable[str], spares: Iterable[str] = ()) -> Resources:
        """Create (or take from `--existing`) each wanted kind and what it needs, in dependency order."""
        wanted, spare = with_needs(kinds, billed=self.billed), set(spares)
        with httpx.Client(timeout=self.timeout) as client:
            for kind in KINDS:
                if kind.name in wanted:
                    self._provide(client, kind)
                if kind.name in spare:
                    self._spare(client, kind)
        return self.resources

    def _provide(self, client: httpx.Client, kind: Kind) -> None:
        given = self.existing.get(kind.name)
        if given:
            self.resources.values[f"{kind.name}.id"] = given
            if kind.name == "job" and self.auth.credentials.job_token:
                self.resources.values["job.token"] = self.auth.credentials.job_token
            return
        created = self.create(client, kind)
        if isinstance(created, str):
            hint = f" (or pass --existing {kind.name}=ID)"
            self.resources.missing[kind.name] = created + hint
            return
        for name, value in created.items():
            self.resources.values[f"{kind.name}.{name}"] = value
        if kind.name == "job":
            self._fill_job(client)

    def _spare(self, client: httpx.Client, kind: Kind) -> None:
        created = self.create(client, kind)
        if isinstance(created, str):
            self.resources.missing[kind.name + SPARE] = created
        else:
            self.resources.values[f"{kind.name}{SPARE}.id"] = created["id"]

    def create(self, client: httpx.Client, kind: Kind, refs: Mapping[str, str] | None = None) -> dict[str, str] | str:
        """Create one resource of `kind` (naming `refs`, see `body_for`): its values (`id`, …), or why it could not."""
        operation = self.contract.operation(kind.creator)
        if kind.billed and not self.billed:
            return f"creating one would start a billed deployment ({operation.operation_id})"
        headers = self.auth.headers_for(operation)
        if headers is None:
            return f"no credential satisfies {operation.operation_id}"
        response = self.send(client, operation, headers=headers, body=self.body_for(kind, refs))
        if response is None:
            return f"{operation.operation_id} got no answer"
        if not 200 <= response.status_code < 300:
            return f"{operation.operation_id} answered HTTP {response.status_code}: {response.text[:160]}"
        try:
            answer = response.json()
        except ValueError:
            return f"{operation.operation_id} answered HTTP {response.status_code} without a JSON body"
        self.auth.tokens.learn(answer)
        pointer = id_pointer(operation)
        identifier = pointers.get(answer, pointer)
        if not isinstance(identifier, str | int) or isinstance(identifier, bool):
            return f"{operation.operation_id} answered no id at {pointer}"
        values = {"id": str(identifier)}
        for name, field_pointer in kind.fields.items():
            value = pointers.get(answer, field_pointer)
            if isinstance(value, str):
                values[name] = value
        for name, template in kind.unique.values():
            values[name] = template.format(run=self.resources.run)
        return values

    def body_for(self, kind: Kind, refs: Mapping[str, str] | None = None) -> Any:
        """The creator's request for a new resource of `kind`: its example, made unique, naming `refs`.

        `refs` (request pointer -> id) default to the provisioned resources the kind's `refs` name.
        """
        operation = self.contract.operation(kind.creator)
        body = request_example(operation)
        if kind.name == "job":
            example_id = pointers.get(success_example(operation), id_pointer(operation))
            body = substituted(body, {str(example_id): f"gate-{self.resources.run}-{uuid.uuid4().hex[:6]}"})
        for pointer, (_, template) in kind.unique.items():
            body = replaced(body, pointer, template.format(run=self.resources.run))
        named = refs if refs is not None else self._refs(kind)
        for pointer, value in named.items():
            body = replaced(body, pointer, value)
        if kind.name == "batch":
            body = self._batch_source(body)
        return body

    def _refs(self, kind: Kind) -> dict[str, str]:
        found = {}
        for pointer, name in kind.refs.items():
            value = self.resources.values.get(f"{name}.id")
            if value:
                found[pointer] = value
        return found

    def _batch_source(self, body: Any) -> Any:
        """One source of prompts (§10.2): the `--existing` test suite, else the dataset, else the example's suite."""
        config = pointers.get(body, "/config")
        if not isinstance(config, dict):
            return body
        suite_field, dataset_field = BATCH_SUITE.rsplit("/", 1)[-1], BATCH_DATASET.rsplit("/", 1)[-1]
        suite = self.existing.get("test_suite")
        if suite:
            source = {k: v for k, v in config.items() if k != dataset_field}
            return replaced(body, "/config", {**source, suite_field: suite})
        if config.get(dataset_field):
            return replaced(body, "/config", {k: v for k, v in config.items() if k != suite_field})
        return body

    def _fill_job(self, client: httpx.Client) -> None:
        """Upload predictions, a metric and logs to the provisioned job with its own token."""
        job_id = self.resources.values["job.id"]
        creator = self.contract.operation(BY_NAME["job"].creator)
        example = success_example(creator)
        mapping = {}
        if isinstance(example, dict):
            for key, value in example.items():
                own = self.resources.values.get(f"job.{key if key != 'job_id' else 'id'}")
                if isinstance(value, str) and own:
                    mapping[value] = own
        problems = []
        for operation_id, variants in JOB_FILLERS.items():
            operation = self.contract.operation(operation_id)
            example = substituted(request_example(operation), mapping)
            if operation_id == self.contract.stream.trigger.get("operation_id"):
                example = self._rows(example, str(self.contract.stream.trigger["items"]))
            headers = self.auth.headers_for(operation, job_values=[job_id]) or {}
            for variant in variants:
                body = example
                for pointer, value in variant.items():
                    body = replaced(body, pointer, value)
                response = self.send(client, operation, headers=headers, body=body, path=_path(operation, job_id))
                if response is None or not 200 <= response.status_code < 300:
                    problems.append(f"{operation_id} answered {response.status_code if response else 'nothing'}")
                    break
        if problems:
            self.resources.missing["job data"] = "; ".join(problems)

    def _rows(self, body: Any, pointer: str) -> Any:
        items = pointers.get(body, pointer)
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            return body
        rows = [{**items[0], "epoch": epoch, "sample_index": index} for epoch, index in PREDICTION_ROWS]
        return replaced(body, pointer, rows)

    def send(
        self,
        client: httpx.Client,
        operation: Operation,
        *,
        headers: Mapping[str, str],
        body: Any = None,
        path: str | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> httpx.Response | None:
        """One request of `operation` (a form upload when the operation takes multipart); None on a network error."""
        url = self.base_url + (path if path is not None else operation.path)
        self.results.count_requests()
        try:
            if is_form(operation) and isinstance(body, dict):
                files, data = form_parts(example_files(self.contract).get(operation.operation_id, {}), body)
                request = client.build_request(
                    operation.method, url, headers=dict(headers), params=query, files=files, data=data
                )
            else:
                request = client.build_request(operation.method, url, headers=dict(headers), params=query, json=body)
            if not streams(operation):
                return client.send(request)
            # A stream never ends: its status and headers are the answer; an error body is read.
            response = client.send(request, stream=True)
            try:
                if not 200 <= response.status_code < 300:
                    response.read()
            finally:
                response.close()
            return response
        except httpx.HTTPError:
            return None


def with_needs(kinds: Iterable[str], *, billed: bool = True) -> set[str]:
    """The kinds and, recursively, every kind they need first (a billed kind only when it may be created)."""
    found: set[str] = set()
    pending = [name for name in kinds if name in BY_NAME]
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            if billed or not BY_NAME[name].billed:
                pending.extend(BY_NAME[name].needs)
    return found


def streams(operation: Operation) -> bool:
    """True when the operation's success answer is an event stream that never ends."""
    return any(media.startswith("text/event-stream") for media in operation.success.content)


def body_bytes(response: httpx.Response) -> bytes:
    """What was read of a response's body (nothing of a stream that was only opened)."""
    try:
        return response.content
    except httpx.ResponseNotRead:
        return b""


def _path(operation: Operation, job_id: str) -> str:
    return operation.path_for(**{p.name: job_id for p in operation.parameters_in("path")})
