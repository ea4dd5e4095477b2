// Golden vectors shared by every implementation (test/vectors): decode, re-encode byte-exactly, every error code.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { protocol } from "../../dist/index.js";

const { FrameKind, FrameReader, readFrame, encodeFrame, concatFrames, frameKindName, ProtocolError, errorInfo, errorInfoByName } = protocol;

const vectorsDir = fileURLToPath(new URL("../../../../test/vectors/", import.meta.url));
const valid = JSON.parse(readFileSync(vectorsDir + "valid.json", "utf8"));
const invalid = JSON.parse(readFileSync(vectorsDir + "invalid.json", "utf8"));
const limits = { maxFrameLength: valid.maxFrameLength };

const U64_FIELDS = new Set(["epoch", "offset", "timestamp", "nonce", "expiresAt"]);
const hexToBytes = (hex) => Uint8Array.from(Buffer.from(hex, "hex"));
const bytesToHex = (bytes) => Buffer.from(bytes).toString("hex");

/** Decoded frame → the vectors' JSON shape (kind name, u64 as decimal strings, payload as hex). */
function toJson(frame) {
  const out = { kind: frameKindName(frame.kind) };
  for (const [key, value] of Object.entries(frame)) {
    if (key === "kind") continue;
    if (key === "payload") out.payloadHex = bytesToHex(value);
    else if (typeof value === "bigint") out[key] = value.toString();
    else out[key] = value;
  }
  return out;
}

/** Vector JSON → a frame object for the writer (independent of the reader). */
function fromJson(json) {
  const frame = { kind: FrameKind[json.kind] };
  for (const [key, value] of Object.entries(json)) {
    if (key === "kind") continue;
    if (key === "payloadHex") frame.payload = hexToBytes(value);
    else if (U64_FIELDS.has(key)) frame[key] = BigInt(value);
    else frame[key] = value;
  }
  return frame;
}

/** Reads frames from the start; returns { frames, consumed, error, needMore }. */
function readAll(bytes) {
  const frames = [];
  let offset = 0;
  try {
    while (offset < bytes.length) {
      const result = readFrame(bytes, limits, offset);
      if (result === null) return { frames, consumed: offset, needMore: true };
      frames.push(result.frame);
      offset += result.size;
    }
  } catch (error) {
    return { frames, consumed: offset, error };
  }
  return { frames, consumed: offset };
}

describe("golden vectors: valid", () => {
  assert.equal(valid.protocol, 1);
  assert.ok(valid.vectors.length >= 40, "valid vectors present");
  for (const vector of valid.vectors) {
    test(vector.name, () => {
      const bytes = hexToBytes(vector.hex);
      const { frames, consumed, error, needMore } = readAll(bytes);
      assert.equal(error, undefined, `unexpected error ${error?.message}`);
      assert.notEqual(needMore, true, "must not need more bytes");
      assert.equal(consumed, bytes.length, "consumes the whole input");
      assert.deepEqual(frames.map(toJson), vector.frames, "decoded fields");

      // Re-encoding the decoded frames gives exactly the input.
      assert.equal(bytesToHex(concatFrames(frames.map((f) => encodeFrame(f)))), vector.hex, "re-encode decoded");
      // Encoding from the vector's fields (writer alone) gives exactly the input.
      assert.equal(bytesToHex(concatFrames(vector.frames.map((f) => encodeFrame(fromJson(f))))), vector.hex, "encode from fields");

      // Streaming reader, one byte at a time: "need more" until each frame is whole.
      const reader = new FrameReader(limits);
      const streamed = [];
      for (let i = 0; i < bytes.length; i++) {
        reader.push(bytes.subarray(i, i + 1));
        for (let f = reader.next(); f !== undefined; f = reader.next()) streamed.push(f);
      }
      assert.equal(reader.buffered, 0);
      assert.deepEqual(streamed.map(toJson), vector.frames, "streamed byte by byte");

      // Every prefix: whole frames decode, the rest is "need more" (never an error), nothing partial consumed.
      const boundaries = new Set([0]);
      for (let o = 0, i = 0; i < frames.length; i++) boundaries.add((o += encodeFrame(frames[i]).length));
      for (let length = 0; length < bytes.length; length++) {
        const prefix = readAll(bytes.subarray(0, length));
        assert.equal(prefix.error, undefined, `prefix ${length}: ${prefix.error?.message}`);
        if (!boundaries.has(length)) assert.equal(prefix.needMore, true, `prefix ${length} needs more`);
        assert.ok(boundaries.has(prefix.consumed), `prefix ${length} consumed only whole frames`);
      }
    });
  }
});

describe("golden vectors: invalid", () => {
  assert.equal(invalid.protocol, 1);
  assert.ok(invalid.vectors.length >= 40, "invalid vectors present");
  for (const vector of invalid.vectors) {
    test(vector.name, () => {
      const bytes = hexToBytes(vector.hex);
      const { consumed, error, needMore } = readAll(bytes);
      if (vector.needMore) {
        assert.equal(error, undefined, `unexpected error ${error?.message}`);
        assert.equal(needMore, true, "reader answers need-more");
        assert.ok(consumed < bytes.length, "the partial frame is not consumed");
        const reader = new FrameReader(limits);
        reader.push(bytes);
        reader.drain();
        assert.equal(reader.buffered, bytes.length - consumed, "streaming reader keeps the partial frame");
        return;
      }
      assert.ok(error instanceof ProtocolError, `expected ProtocolError, got ${error}`);
      assert.equal(error.code, vector.error.code, `code (${error.message})`);
      assert.equal(error.codeName, vector.error.name);
      assert.equal(errorInfo(vector.error.code).name, vector.error.name);
      // The streaming reader reports the same error.
      const reader = new FrameReader(limits);
      reader.push(bytes);
      assert.throws(() => reader.drain(), (e) => e instanceof ProtocolError && e.code === vector.error.code);
    });
  }

  test("every error code named by the vectors is in the catalog", () => {
    const names = new Set(invalid.vectors.filter((v) => v.error).map((v) => v.error.name));
    assert.ok(names.size >= 10);
    for (const name of names) assert.ok(errorInfoByName(name), `catalog has ${name}`);
  });
});
