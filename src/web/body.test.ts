import { describe, expect, it } from "vitest";
import { BodyTooLargeError, readBodyCapped } from "./body.js";

const post = (body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  new Request("http://x/", { method: "POST", body, headers, ...(body instanceof ReadableStream ? { duplex: "half" } : {}) } as RequestInit);

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });
}

describe("readBodyCapped", () => {
  it("reads a body whose declared length is within the cap", async () => {
    const raw = await readBodyCapped(post('{"a":"é"}', { "content-length": "11" }), 64);
    expect(new TextDecoder().decode(raw)).toBe('{"a":"é"}');
  });

  it("refuses a body longer than the cap even when its declared length says otherwise", async () => {
    await expect(readBodyCapped(post("x".repeat(100), { "content-length": "10" }), 64)).rejects.toBeInstanceOf(BodyTooLargeError);
  });

  it("cuts an undeclared (streamed) body at the cap", async () => {
    await expect(readBodyCapped(post(streamOf("x".repeat(40), "y".repeat(40))), 64)).rejects.toBeInstanceOf(BodyTooLargeError);
    const raw = await readBodyCapped(post(streamOf("ab", "cd")), 64);
    expect(new TextDecoder().decode(raw)).toBe("abcd");
  });

  it("reads an empty body as no bytes", async () => {
    expect((await readBodyCapped(post("", { "content-length": "0" }), 64)).byteLength).toBe(0);
    expect((await readBodyCapped(new Request("http://x/"), 64)).byteLength).toBe(0);
  });
});
