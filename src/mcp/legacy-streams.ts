/** Open SSE streams of a live session are counted, so a session is never dropped from memory while it streams. */
import type { LiveSession } from "./legacy-live.js";

/**
 * The header first: under @hono/node-server, `Response` is a lightweight stand-in that writes a string body
 * straight to the socket, and reading `.body` turns it into a real (stream-backed) Response for good.
 */
export function isEventStream(response: Response): boolean {
  return !!response.headers.get("content-type")?.includes("text/event-stream") && !!response.body;
}

/**
 * Wraps an SSE response so the session counts it as open until it ends or the client goes away (then
 * `onEnd` runs); `priming` is sent first (a GET stream's resume anchor). Other responses pass through.
 */
export function countedStream(
  live: LiveSession,
  response: Response,
  now: () => number,
  priming: Uint8Array | null,
  onEnd?: () => void,
): Response {
  if (!isEventStream(response) || !response.body) return response;
  live.activeStreams++;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    live.activeStreams--;
    live.lastUsed = now();
    onEnd?.();
  };
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (priming) controller.enqueue(priming);
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          finish();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}
