"""Talks to ferronoded over P2P with python-bitcoinlib's message classes,
an implementation independent of ours (and of rust-bitcoin): handshake,
ping, getheaders from genesis, getdata of the tip block.

Then a block is mined through RPC: this client never sent `sendheaders`,
so it must be announced by `inv`; it is fetched without witness data
(`MSG_BLOCK`) and checked.

usage: p2p_python.py <port> <expected tip hash> <expected height> <rpc port> <user:password>
Prints OK and exits 0 when every check passes.
"""
import base64
import json
import urllib.request
import socket
import struct
import sys
import time

from io import BytesIO

import bitcoin
from bitcoin.core import CBlockHeader, b2lx, lx
from bitcoin.core.serialize import VarIntSerializer
from bitcoin.messages import (MSG_BLOCK, MSG_WITNESS_FLAG, MsgSerializable, msg_getdata, msg_getheaders,
                              msg_ping, msg_pong, msg_verack, msg_version)
from bitcoin.net import CBlockLocator, CInv

bitcoin.SelectParams("regtest")
port, tip, height = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rpc_port, credentials = int(sys.argv[4]), sys.argv[5]
sock = socket.create_connection(("127.0.0.1", port), timeout=20)


def check(cond, what):
    if not cond:
        print("FAILED: " + what)
        sys.exit(1)


def read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed by ferronoded")
        buf += chunk
    return buf


def parse_headers(body):
    """python-bitcoinlib's msg_headers does not read the transaction count
    (always 0) that follows each header on the wire, so the payload is
    read here with the library's own serializers."""
    f = BytesIO(body)
    headers = []
    for _ in range(VarIntSerializer.stream_deserialize(f)):
        headers.append(CBlockHeader.stream_deserialize(f))
        check(VarIntSerializer.stream_deserialize(f) == 0, "a zero transaction count after each header")
    check(f.read() == b"", "no trailing bytes in headers")
    return headers


def receive():
    """(command, parsed message or None for commands the library lacks)."""
    header = read_exact(24)
    length = struct.unpack("<I", header[16:20])[0]
    raw = header + read_exact(length)
    command = header[4:16].split(b"\x00", 1)[0].decode()
    # from_bytes checks the magic and the checksum
    msg = MsgSerializable.from_bytes(raw)
    if command == "headers":
        msg.headers = parse_headers(raw[24:])
    return command, msg


def send(msg):
    sock.sendall(msg.to_bytes())


version = msg_version(protover=70016)
version.nVersion = 70016
version.nServices = 1 | 8
version.strSubVer = b"/python-bitcoinlib-interop/"
send(version)
seen = []
while "verack" not in seen:
    command, msg = receive()
    seen.append(command)
    if command == "version":
        check(msg.nVersion == 70016, "protocol version %d" % msg.nVersion)
        check(msg.nServices == 9, "services %d" % msg.nServices)
        check(msg.strSubVer.startswith(b"/ferronode:"), "user agent %r" % msg.strSubVer)
        check(msg.nStartingHeight == height, "start height %d" % msg.nStartingHeight)
check(seen == ["version", "wtxidrelay", "sendaddrv2", "verack"], "handshake order %s" % seen)
send(msg_verack(protover=70016))

# after the handshake ferronoded sends sendheaders, a ping and getheaders
pinged = getheaders = False
deadline = time.time() + 20
while not (pinged and getheaders) and time.time() < deadline:
    command, msg = receive()
    if command == "ping":
        send(msg_pong(protover=70016, nonce=msg.nonce))
        pinged = True
    elif command == "getheaders":
        check(len(msg.locator.vHave) >= 1, "a locator")
        getheaders = True
check(pinged and getheaders, "ping and getheaders after verack")

send(msg_ping(protover=70016, nonce=0x1122334455667788))
request = msg_getheaders(protover=70016)
request.locator = CBlockLocator()
request.locator.vHave = [bitcoin.params.GENESIS_BLOCK.GetHash()]
send(request)
got_pong = headers = None
while got_pong is None or headers is None:
    command, msg = receive()
    if command == "pong":
        got_pong = msg.nonce
    elif command == "headers":
        headers = msg.headers
check(got_pong == 0x1122334455667788, "pong nonce")
check(len(headers) == height, "%d headers" % len(headers))
prev = bitcoin.params.GENESIS_BLOCK.GetHash()
for h in headers:
    check(h.hashPrevBlock == prev, "headers connect")
    prev = h.GetHash()
check(b2lx(prev) == tip, "last header is the tip")

get = msg_getdata(protover=70016)
inv = CInv()
inv.type = MSG_BLOCK | MSG_WITNESS_FLAG
inv.hash = lx(tip)
get.inv = [inv]
send(get)
while True:
    command, msg = receive()
    if command == "block":
        check(b2lx(msg.block.GetHash()) == tip, "the block asked for")
        check(len(msg.block.vtx) >= 1, "a coinbase")
        check(msg.block.calc_merkle_root() == msg.block.hashMerkleRoot, "merkle root")
        break


def rpc(method, params):
    request = urllib.request.Request(
        "http://127.0.0.1:%d/" % rpc_port,
        data=json.dumps({"jsonrpc": "1.0", "id": 1, "method": method, "params": params}).encode(),
        headers={"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
                 "Content-Type": "text/plain"})
    return json.load(urllib.request.urlopen(request, timeout=20))["result"]


new_hash = rpc("generatetoaddress", [1, "bcrt1qjqmxmkpmxt80xz4y3746zgt0q3u3ferr34acd5"])[0]
while True:
    command, msg = receive()
    if command == "ping":
        send(msg_pong(protover=70016, nonce=msg.nonce))
    if command == "inv":
        check([(i.type, b2lx(i.hash)) for i in msg.inv] == [(MSG_BLOCK, new_hash)], "an inv of the new block")
        break
    check(command != "headers", "headers to a peer that did not send sendheaders")
get = msg_getdata(protover=70016)
inv = CInv()
inv.type = MSG_BLOCK
inv.hash = lx(new_hash)
get.inv = [inv]
send(get)
while True:
    command, msg = receive()
    if command == "block":
        raw = msg.block.serialize()
        check(b2lx(msg.block.GetHash()) == new_hash, "the announced block")
        check(not msg.block.vtx[0].has_witness(), "no witness in a MSG_BLOCK reply")
        check(msg.block.calc_merkle_root() == msg.block.hashMerkleRoot, "merkle root")
        break
print("OK")
