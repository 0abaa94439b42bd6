#!/usr/bin/env python3
"""Regenerates shared/protocol/vectors/*.json from an implementation that is
neither ours in C nor ours in TypeScript (Debian's python3-msgpack and
python3-crcmod), so that both of our codecs are graded by a third one.

Run by hand when PROTOCOL.md changes; tests only read the committed files."""
import json, math, os, struct
import msgpack, crcmod

OUT = os.path.join(os.path.dirname(__file__), "..", "vectors")
crc16 = crcmod.predefined.mkCrcFun("crc-ccitt-false")

def f32(x):
    return struct.unpack(">f", struct.pack(">f", x))[0]

def batch(v=1, d="node-1", b=1, s=0, f="1.0.0", t=1700000000000, u=False, r=None):
    return {"v": v, "d": d, "b": b, "s": s, "f": f, "t": t, "u": u,
            "r": r if r is not None else [["temperature", 0, 21.5]]}

def pack(obj):
    # use_single_float: every float is float32; python dicts keep insertion order.
    return msgpack.packb(obj, use_single_float=True, use_bin_type=True)

def as_value(obj):
    """The decoded value a reader must produce: float32-rounded floats."""
    if isinstance(obj, dict):
        return {k: as_value(x) for k, x in obj.items()}
    if isinstance(obj, list):
        return [as_value(x) for x in obj]
    if isinstance(obj, float):
        return f32(obj)
    return obj

def cobs_encode(data: bytes) -> bytes:
    out, block = bytearray(), bytearray()
    for byte in data:
        if byte == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
        else:
            block.append(byte)
            if len(block) == 254:
                out += b"\xff" + block
                block = bytearray()
    out += bytes([len(block) + 1]) + block
    return bytes(out)

def frame(ftype, seq, payload, ver=1, crc=None):
    body = bytes([ver, ftype]) + struct.pack(">I", seq) + payload
    c = crc16(body) if crc is None else crc
    return body + struct.pack(">H", c)

def write(name, doc):
    with open(os.path.join(OUT, name), "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")

def batch_vectors():
    valid = []
    def add(name, obj, note, canonical=True, raw=None):
        data = raw if raw is not None else pack(obj)
        valid.append({"name": name, "note": note, "canonical": canonical,
                      "hex": data.hex(), "value": as_value(obj)})
    add("minimal", batch(), "one reading, fixints, uint64 epoch ms")
    add("unsynced_clock", batch(d="node-2", b=3, s=7, t=12345, u=True,
        r=[["humidity", 0, 40.25], ["humidity", 1000, 41.0]]),
        "u=true, t is ms since boot (uint16), whole-number float32")
    add("uint8_uint16_uint32", batch(b=200, s=1000, t=70000, u=True,
        r=[["pressure", 65536, 1013.25]]),
        "boot uint8, seq uint16, t uint32, offset uint32")
    add("uint32_max", batch(b=4294967295, s=4294967295,
        r=[["temperature", 4294967295, -40.0]]), "largest uint32 fields")
    add("float_not_exact", batch(r=[["temperature", 0, 21.3], ["pot", 250, 0.1]]),
        "21.3 and 0.1 are not exact in float32: value is the float32 rounding")
    add("negative_and_zero", batch(r=[["temperature", 0, -3.25], ["temperature", 1, 0.0],
        ["temperature", 2, -0.5]]), "negative and zero floats")
    add("sixteen_readings", batch(s=42, r=[["temperature" if i % 2 == 0 else "humidity",
        i * 500, 20.0 + i * 0.5] for i in range(16)]),
        "16 readings: array16 header (0xdc 0x00 0x10)")
    add("str8_device", batch(d="esp32-" + "a1b2c3d4e5f6" + "-line-07-station-12",
        r=[["temperature", 0, 22.0]]), "device id of 37 bytes: str8")
    add("mac_device_id", batch(d="esp32-a1b2c3d4e5f6", f="1.2.3-rc1",
        r=[["temperature", 0, 23.5], ["humidity", 0, 55.5], ["pot", 0, 512.0]]),
        "MAC-derived device id, three sensors")
    # Lenient reader cases: valid, but no writer of ours produces these bytes.
    reordered = {"r": [["temperature", 0, 21.5]], "u": False, "t": 1700000000000,
                 "f": "1.0.0", "s": 0, "b": 1, "d": "node-1", "v": 1}
    add("keys_reordered", reordered, "keys in another order", canonical=False)
    wide = msgpack.packb(batch(r=[["temperature", 0, 21.5]]), use_single_float=False)
    add("float64_value", batch(), "value as float64 (0xcb)", canonical=False, raw=wide)
    extra = dict(batch()); extra["zz"] = "future field"
    add("unknown_key", extra, "unknown keys are ignored", canonical=False)
    valid[-1]["value"] = as_value(batch())

    invalid = []
    def bad(name, data, error, note):
        invalid.append({"name": name, "note": note, "hex": data.hex(), "error": error})
    good = pack(batch())
    bad("empty", b"", "malformed", "no bytes")
    bad("truncated", good[:-3], "malformed", "cut inside the last float")
    bad("trailing_bytes", good + b"\x00", "malformed", "a byte after the map")
    bad("not_a_map", pack([1, 2, 3]), "not_a_map", "top level is an array")
    bad("version_2", pack(batch(v=2)), "unsupported_version", "v=2")
    nor = dict(batch()); del nor["r"]
    bad("missing_readings", pack(nor), "missing_field", "no r key")
    nod = dict(batch()); del nod["d"]
    bad("missing_device", pack(nod), "missing_field", "no d key")
    bad("empty_readings", pack(batch(r=[])), "bad_field", "r is empty")
    bad("nan_value", pack(batch(r=[["temperature", 0, float("nan")]])), "bad_field", "NaN")
    bad("inf_value", pack(batch(r=[["temperature", 0, float("inf")]])), "bad_field", "+Infinity")
    bad("sensor_uppercase", pack(batch(r=[["Temp", 0, 1.0]])), "bad_field", "sensor outside [a-z0-9_]")
    bad("device_with_slash", pack(batch(d="a/b")), "bad_field", "device id outside [A-Za-z0-9_-]")
    bad("negative_seq", pack(batch(s=-1)), "bad_field", "seq is negative")
    bad("seq_over_uint32", pack(batch(s=4294967296)), "bad_field", "seq > uint32")
    bad("reading_wrong_arity", pack(batch(r=[["temperature", 0]])), "bad_field", "reading of 2")
    bad("value_is_string", pack(batch(r=[["temperature", 0, "21.5"]])), "bad_field", "value is a string")
    bad("u_not_bool", pack(batch(u=1)), "bad_field", "u is an int")
    bad("too_many_readings", pack(batch(r=[["t", i, 1.0] for i in range(257)])), "bad_field", "257 readings")
    big = pack(batch(d="d" * 64, r=[["s" * 32, 4294967295, 1.0] for _ in range(256)]))
    bad("too_large", big, "too_large", "payload over 4096 bytes")
    json_valid = [{"name": "json_minimal", "note": "JSON form", "canonical": False,
        "text": json.dumps(batch(), separators=(",", ":")), "value": as_value(batch())}]
    json_invalid = [{"name": "json_broken", "note": "not JSON", "text": "{\"v\":1,", "error": "malformed"}]
    write("batch.json", {"description": "Batch payloads (PROTOCOL.md section 3). canonical: our writers must produce exactly these bytes.",
                         "valid": valid, "invalid": invalid, "json_valid": json_valid, "json_invalid": json_invalid})

def status_cmd_vectors():
    st = {"v": 1, "d": "esp32-a1b2c3d4e5f6", "b": 7, "st": "online", "up": 3600, "rssi": -61,
          "heap": 182344, "drop": 0, "iv": 1000, "bs": 16, "cmd": 0}
    will = {"v": 1, "d": "esp32-a1b2c3d4e5f6", "b": 7, "st": "offline"}
    st2 = dict(st); st2.update({"drop": 300, "cmd": 9, "rssi": -128, "up": 70000})
    write("status.json", {"description": "Status payloads (PROTOCOL.md section 5)", "valid": [
        {"name": "birth", "note": "online, negative fixint rssi", "canonical": True, "hex": pack(st).hex(), "value": st},
        {"name": "last_will", "note": "4-key offline map", "canonical": True, "hex": pack(will).hex(), "value": will},
        {"name": "after_command", "note": "rssi int8, drop uint16, cmd confirmed", "canonical": True, "hex": pack(st2).hex(), "value": st2}],
        "invalid": [{"name": "version_2", "note": "v=2", "hex": pack(dict(st, v=2)).hex(), "error": "unsupported_version"}]})
    def c(i, op, arg):
        return {"v": 1, "id": i, "op": op, "arg": arg}
    valid = [c(1, "set_interval", 5000), c(2, "set_batch", 8), c(3, "ping", 0), c(70000, "reboot", 0),
             c(4, "set_interval", 100), c(5, "set_interval", 3600000), c(6, "set_batch", 64)]
    invalid = [
        ("unknown_op", pack(c(1, "selfdestruct", 0)), "bad_op"),
        ("interval_too_small", pack(c(1, "set_interval", 99)), "bad_arg"),
        ("interval_too_large", pack(c(1, "set_interval", 3600001)), "bad_arg"),
        ("batch_zero", pack(c(1, "set_batch", 0)), "bad_arg"),
        ("batch_too_large", pack(c(1, "set_batch", 65)), "bad_arg"),
        ("id_zero", pack(c(0, "ping", 0)), "bad_field"),
        ("missing_op", pack({"v": 1, "id": 1, "arg": 0}), "bad_field"),
        ("version_2", pack(dict(c(1, "ping", 0), v=2)), "unsupported_version"),
        ("not_a_map", pack("ping"), "malformed"),
        ("truncated", pack(c(1, "set_interval", 5000))[:-2], "malformed"),
        ("empty", b"", "malformed"),
        ("op_not_string", pack({"v": 1, "id": 1, "op": 5, "arg": 0}), "bad_field"),
        ("huge_str_header", bytes.fromhex("84a17601a2696401a26f70dbffffffff"), "malformed"),
    ]
    write("cmd.json", {"description": "Command payloads (PROTOCOL.md section 6)",
        "valid": [{"name": f"{x['op']}_{x['arg']}", "canonical": True, "hex": pack(x).hex(), "value": x} for x in valid],
        "invalid": [{"name": n, "hex": h.hex(), "error": e} for n, h, e in invalid]})

def cobs_crc_vectors():
    cases = [b"", b"\x00", b"\x00\x00", b"\x11\x22\x00\x33", b"\x11\x22\x33\x44", b"\x11\x00\x00\x00",
             bytes(range(1, 255)), b"\x00" + bytes(range(1, 255)), bytes(range(1, 256)),
             bytes(range(2, 256)) + b"\x00", bytes(range(3, 256)) + b"\x00\x01",
             bytes((i % 255) + 1 for i in range(600))]
    write("cobs.json", {"description": "COBS encode/decode (PROTOCOL.md section 10); encoded has no trailing 0x00 delimiter",
        "valid": [{"decoded": d.hex(), "encoded": cobs_encode(d).hex()} for d in cases],
        "invalid": [{"name": "zero_inside", "encoded": "0311002233", "error": "bad_cobs"},
                    {"name": "code_past_end", "encoded": "051122", "error": "bad_cobs"},
                    {"name": "zero_code", "encoded": "00", "error": "bad_cobs"}]})
    crcs = [b"123456789", b"", b"\x00", b"\xff\xff", b"edge gateway", bytes(range(256))]
    write("crc16.json", {"description": "CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0",
        "vectors": [{"data": d.hex(), "crc": "%04x" % crc16(d)} for d in crcs]})

def frame_vectors():
    b = pack(batch(s=5))
    st = pack({"v": 1, "d": "node-1", "b": 1, "st": "online", "up": 1, "rssi": 0, "heap": 0,
               "drop": 0, "iv": 1000, "bs": 16, "cmd": 0})
    cmd = pack({"v": 1, "id": 77, "op": "set_interval", "arg": 2000})
    valid = []
    def add(name, ftype, seq, payload, note):
        raw = frame(ftype, seq, payload)
        valid.append({"name": name, "note": note, "version": 1, "type": ftype, "seq": seq,
                      "payload": payload.hex(), "raw": raw.hex(), "wire": (cobs_encode(raw) + b"\x00").hex()})
    add("telemetry", 1, 5, b, "seq equals the batch's s")
    add("status", 2, 0, st, "status frames carry seq 0")
    add("ack_stored", 3, 5, b"\x00", "ack for seq 5: stored")
    add("ack_busy", 3, 4294967295, b"\x02", "ack busy, max seq")
    add("cmd", 4, 77, cmd, "seq is the command id")
    add("telemetry_zero_seq", 1, 0, pack(batch(s=0)), "seq 0 has zero bytes that COBS removes")
    add("big_payload", 1, 300, bytes((i * 7) % 256 for i in range(1000)), "1000-byte payload, several COBS blocks")
    invalid = []
    def bad(name, wire, error, note):
        invalid.append({"name": name, "note": note, "wire": wire.hex(), "error": error})
    good = frame(1, 5, b)
    bad("bad_crc", cobs_encode(good[:-2] + bytes([good[-2] ^ 0x01, good[-1]])) + b"\x00", "bad_crc", "CRC high byte flipped")
    bad("payload_bit_flip", cobs_encode(good[:10] + bytes([good[10] ^ 0x80]) + good[11:]) + b"\x00", "bad_crc", "one payload bit flipped")
    bad("wrong_version", cobs_encode(frame(1, 5, b, ver=2)) + b"\x00", "bad_version", "version byte 2, CRC valid")
    bad("unknown_type", cobs_encode(frame(9, 5, b)) + b"\x00", "bad_type", "type 9, CRC valid")
    bad("too_short", cobs_encode(b"\x01\x01\x00\x00") + b"\x00", "truncated", "shorter than header + CRC")
    bad("bad_cobs", bytes.fromhex("0511220033") , "bad_cobs", "code byte points past a zero")
    bad("oversized", cobs_encode(frame(1, 1, bytes([1]) * 4097)) + b"\x00", "oversized", "payload of 4097 bytes")
    write("frame.json", {"description": "Serial frames (PROTOCOL.md section 10): raw = before COBS, wire = COBS + 0x00",
                         "valid": valid, "invalid": invalid})

def escape_vectors():
    cases = [("floor1", "floor1"), ("a.b", "a%2Eb"), ("x*y", "x%2Ay"), ("#", "%23"), ("50%", "50%25"),
             ("%2E", "%252E"), ("a.*#%", "a%2E%2A%23%25"), ("temp_c-1", "temp_c-1")]
    write("topic-escape.json", {"description": "MQTT topic level -> AMQP routing-key word (PROTOCOL.md section 9)",
                                "vectors": [{"level": l, "word": w} for l, w in cases]})

os.makedirs(OUT, exist_ok=True)
batch_vectors(); status_cmd_vectors(); cobs_crc_vectors(); frame_vectors(); escape_vectors()
print("vectors written to", os.path.abspath(OUT))
