// A reference stream client for Node 20: fetch, a WHATWG event-stream parser, reconnects by the contract's rules.
// Speaks ftl-gate client's protocol (one JSON line per event on stdout) and passes every case:
//   ftl-gate client --run "node contracts/client/adapters/fetch_client.mjs"
// No dependencies. The bounds (floor, backoff, stall) are the contract's, scaled, passed in by ftl-gate.

const setting = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set: run this client through \`ftl-gate client --run\``);
    process.exit(2);
  }
  return value;
};

const url = setting("FTL_STREAM_URL");
const key = setting("FINETUNE_LAB_API_KEY");
const floorMs = Number(setting("FTL_RECONNECT_MS"));
const factor = Number(setting("FTL_BACKOFF_FACTOR"));
const backoffMaxMs = Number(setting("FTL_BACKOFF_MAX_MS"));
const stallMs = Number(setting("FTL_STALL_MS"));
const retryStatuses = new Set(setting("FTL_RETRY_STATUSES").split(",").map(Number));

const emit = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// What outlives one connection (WHATWG keeps both on the EventSource): the last event id and the reconnection time.
let lastId = "";
let retryMs = null;
let failures = 0;

// The WHATWG "interpret an event stream" steps, fed decoded text chunk by chunk.
class Parser {
  constructor() {
    this.partial = "";
    this.afterCR = false;
    this.type = "";
    this.data = [];
    this.idBuffer = lastId;
  }

  feed(text) {
    if (this.afterCR && text.startsWith("\n")) text = text.slice(1); // a CRLF split over two chunks
    this.afterCR = text.endsWith("\r");
    const lines = (this.partial + text).split(/\r\n|\r|\n/);
    this.partial = lines.pop();
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") this.type = value;
    else if (name === "data") this.data.push(value);
    else if (name === "id" && !value.includes("\0")) this.idBuffer = value;
    else if (name === "retry" && /^\d+$/.test(value)) retryMs = Number(value);
  }

  dispatch() {
    lastId = this.idBuffer;
    if (this.data.length) emit({ type: "event", event: this.type || "message", data: this.data.join("\n") });
    this.type = "";
    this.data = [];
  }
}

// One connection: why it ended (to reconnect), or null to stop for good.
async function connect() {
  const controller = new AbortController();
  let timer;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), stallMs); // no byte for this long: a dead connection
  };
  const headers = { "X-API-Key": key, Accept: "text/event-stream", "Cache-Control": "no-store" };
  if (lastId) headers["Last-Event-ID"] = lastId;
  let response;
  arm();
  try {
    response = await fetch(url, { headers, signal: controller.signal });
  } catch (error) {
    clearTimeout(timer);
    failures += 1;
    return `connection failed: ${error.cause?.message ?? error.message}`;
  }
  try {
    if (response.status !== 200) {
      const body = await response.text().catch(() => "");
      if (retryStatuses.has(response.status)) {
        failures += 1;
        return `HTTP ${response.status}`;
      }
      // A give-up status, or any other answer that is not a stream: WHATWG fails the connection for good.
      emit({ type: "error", message: `HTTP ${response.status}: ${body.slice(0, 200)}` });
      return null;
    }
    const media = (response.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (media !== "text/event-stream") {
      emit({ type: "error", message: `not an event stream: ${media}` });
      return null;
    }
    failures = 0;
    const parser = new Parser();
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return "the server ended the stream";
      arm();
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } catch (error) {
    return controller.signal.aborted ? `no byte for ${stallMs} ms` : `connection lost: ${error.cause?.message ?? error.message}`;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

// Backoff after failed attempts; otherwise the server's retry, else the contract's floor.
const delay = () => (failures ? Math.min(floorMs * factor ** (failures - 1), backoffMaxMs) : (retryMs ?? floorMs));

for (;;) {
  const why = await connect();
  if (why === null) {
    emit({ type: "closed" });
    break;
  }
  const wait = delay();
  emit({ type: "error", message: `${why}; reconnecting in ${wait} ms` });
  await sleep(wait);
}
