// The platform's browser hook `useTrainingPredictionsSSE` as reference §3.2 describes it, wrapped in ftl-gate
// client's protocol. It is wrong on purpose, to show what `ftl-gate client` catches:
//   * it splits on "\n" only, so CRLF and lone-CR streams never dispatch;
//   * the current event and data are reset on every chunk read, so an event split over two reads is lost;
//   * values are trimmed, a later `data:` line replaces an earlier one, and a message needs both `event:` and
//     `data:` (a data-only message, type `message`, is never dispatched);
//   * data is parsed with JSON.parse and a failure is only logged (its user gets parsed data, hence "json");
//   * every thrown error, a 401 or 404 included, is retried after 1 s x 2^n (at most 5 retries), the delays
//     multiplied by FTL_TIME_SCALE so a run at time scale 0.05 waits 50, 100, 200, 400, 800 ms;
//   * a clean end of the stream is not reconnected, and there is no read timeout.
//   ftl-gate client --run "node contracts/client/adapters/naive_hook_client.mjs"

const url = process.env.FTL_STREAM_URL;
const apiKey = process.env.FINETUNE_LAB_API_KEY;
const scale = Number(process.env.FTL_TIME_SCALE ?? "1");
const MAX_RETRIES = 5;

const emit = (line) => process.stdout.write(JSON.stringify(line) + "\n");

let attempt = 0;

function dispatch(eventType, text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (error) {
    console.error("[SSE] Failed to parse event data:", error.message);
    return;
  }
  emit({ type: "event", event: eventType, json: data });
  if (eventType === "connected") attempt = 0;
  if (eventType === "error") emit({ type: "error", message: "Server error occurred" });
}

async function connect() {
  try {
    const response = await fetch(url, { headers: { Accept: "text/event-stream", "X-API-Key": apiKey } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    if (!response.body) throw new Error("No response body");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return; // a clean end: no reconnect
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split("\n");
      buffer = lines.pop() || "";
      let eventType = "";
      let eventData = "";
      for (const line of lines) {
        if (line.startsWith("event:")) eventType = line.slice(6).trim();
        else if (line.startsWith("data:")) eventData = line.slice(5).trim();
        else if (line === "" && eventType && eventData) {
          dispatch(eventType, eventData);
          eventType = "";
          eventData = "";
        }
      }
    }
  } catch (error) {
    if (attempt < MAX_RETRIES) {
      const delay = Math.min(1000 * 2 ** attempt, 30000) * scale;
      attempt += 1;
      console.error(`[SSE] ${error.message}; retry ${attempt} in ${delay} ms`);
      setTimeout(connect, delay);
    } else {
      emit({ type: "error", message: "Connection failed after multiple attempts" });
      emit({ type: "closed" });
    }
  }
}

// A mounted hook stays alive whatever its stream does.
setInterval(() => {}, 1 << 30);
connect();
