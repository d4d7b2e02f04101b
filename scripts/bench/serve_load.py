#!/usr/bin/env python3
"""A bounded load test of gpt2-run serve, on loopback only: CLIENTS concurrent clients each send REQUESTS streaming
completions one after the other (the prompts from a JSONL file, in turn) and the run ends when the last answer is in.
Standard library only (asyncio and raw HTTP/1.1), so it runs anywhere Python does; one thread, so pinned to one
core it leaves the others to the server. Prints one JSON object: requests/s, output tokens/s, time to first token
and inter-token latency (p50, p99, in ms), errors and lost requests.

usage: serve_load.py PORT CLIENTS REQUESTS PROMPTS.jsonl
"""
import asyncio, json, sys, time


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def one_request(port, row, record):
    body = json.dumps({"prompt": row["prompt"], "max_tokens": row["max_new_tokens"],
                       "min_tokens": row["min_new_tokens"], "temperature": row["temperature"],
                       "stream": True, "stream_options": {"include_usage": True}}).encode()
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        status = (await reader.readline()).split()[1]
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # the headers; the body is chunked, and its lines are the events
        if status != b"200":
            record["errors"] += 1
            return
        arrivals, tokens, done = [], None, False
        while line := await reader.readline():
            line = line.strip()
            if not line.startswith(b"data: "):
                continue  # a chunk-size line of the chunked encoding
            data = line[6:]
            if data == b"[DONE]":
                done = True
                break
            event = json.loads(data)
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
            elif event["choices"] and event["choices"][0]["text"]:
                arrivals.append(time.perf_counter())
        if not done or tokens != row["max_new_tokens"]:
            record["errors"] += 1
            return
        record["tokens"] += tokens
        record["answered"] += 1
        if arrivals:
            record["ttft"].append(arrivals[0] - started)
            record["itl"].extend(b - a for a, b in zip(arrivals, arrivals[1:]))
    finally:
        writer.close()


async def client(port, rows, start, requests, record):
    for k in range(requests):
        try:
            await one_request(port, rows[(start + k) % len(rows)], record)
        except (OSError, ValueError, IndexError) as e:
            record["errors"] += 1
            record["last_error"] = repr(e)


async def main():
    port, clients, requests = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rows = [json.loads(line) for line in open(sys.argv[4])]
    record = {"tokens": 0, "answered": 0, "errors": 0, "ttft": [], "itl": []}
    started = time.perf_counter()
    await asyncio.gather(*(client(port, rows, c * requests, requests, record) for c in range(clients)))
    seconds = time.perf_counter() - started
    sent = clients * requests
    print(json.dumps({
        "clients": clients, "requests": sent, "answered": record["answered"], "errors": record["errors"],
        "lost": sent - record["answered"] - record["errors"], "seconds": seconds,
        "requests_per_s": record["answered"] / seconds, "tokens": record["tokens"],
        "tokens_per_s": record["tokens"] / seconds,
        "ttft_p50_ms": percentile(record["ttft"], 50) * 1000, "ttft_p99_ms": percentile(record["ttft"], 99) * 1000,
        "itl_p50_ms": percentile(record["itl"], 50) * 1000, "itl_p99_ms": percentile(record["itl"], 99) * 1000,
        "last_error": record.get("last_error"),
    }))


asyncio.run(main())
