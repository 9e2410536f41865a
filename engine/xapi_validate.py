"""Statement validation per xAPI 1.0.3 Part Two (Data): sections 2 (Statements) and 4 (types).

``validate(statement)`` returns the statement normalised as the spec requires
(``contextActivities`` values as arrays, 2.4.6.2.s4.b3) or raises
``StatementError`` naming the JSON path and the spec rule, so a 400 tells the
sender exactly what to fix. The value formats (IRI, mailto, UUID, RFC 5646
tag, ISO 8601 timestamp and duration) are engine/xapi_formats.py.
"""
from __future__ import annotations

import re
from typing import Any

from engine.xapi_formats import (
    IRI_RE,
    LANG_RE,
    MAILTO_RE,
    SHA1_RE,
    UUID_RE,
    StatementError,
    boolean,
    duration,
    extensions,
    fail,
    iri,
    language_map,
    number,
    props,
    string,
    timestamp,
    uuid_string,
)
from engine.xapi_formats import at as _at

__all__ = ["IRI_RE", "UUID_RE", "VOIDED_VERB", "StatementError", "object_type", "validate"]

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"

VERSION_RE = re.compile(r"^1\.0\.\d+$")

OBJECT_TYPES = ("Activity", "Agent", "Group", "SubStatement", "StatementRef")
INTERACTION_TYPES = ("true-false", "choice", "fill-in", "long-fill-in", "matching", "performance",
                     "sequencing", "likert", "numeric", "other")
COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
CONTEXT_TYPES = ("parent", "grouping", "category", "other")
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
STATEMENT_KEYS = {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
                  "version", "attachments"}
SUBSTATEMENT_KEYS = {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}


def validate(statement: Any) -> dict[str, Any]:
    """The statement, normalised, if it follows every Data rule; else StatementError."""
    return _statement(statement, "", sub=False)


# -- actors ----------------------------------------------------------------------

def _ifis(value: dict[str, Any], path: str) -> list[str]:
    found = [k for k in IFIS if k in value]
    for key in found:
        at = _at(path, key)
        if key == "mbox" and not (isinstance(value[key], str) and MAILTO_RE.match(value[key])):
            fail(at, "must be a mailto IRI (mailto:name@example.com)", "2.4.2.3.s3")
        if key == "mbox_sha1sum" and not (isinstance(value[key], str) and SHA1_RE.match(value[key])):
            fail(at, "must be the 40 hex digit SHA1 of a mailto IRI", "2.4.2.3.s3")
        if key == "openid":
            iri(value[key], at, "2.4.2.3.s3")
        if key == "account":
            account = props(value[key], {"homePage", "name"}, at, "2.4.2.4")
            for part in ("homePage", "name"):
                if part not in account:
                    fail(_at(at, part), "is required in an account", "2.4.2.4.s2")
            iri(account["homePage"], _at(at, "homePage"), "2.4.2.4.s2")
            string(account["name"], _at(at, "name"), "2.4.2.4.s2")
    return found


def agent(value: Any, path: str, object_type_required: bool = False) -> None:
    a = props(value, {"objectType", "name", *IFIS}, path, "2.4.2.1")
    if object_type_required and "objectType" not in a:
        fail(_at(path, "objectType"), "is required when an Agent is the object", "2.4.4.2.s1.b1")
    if a.get("objectType", "Agent") != "Agent":
        fail(_at(path, "objectType"), "must be 'Agent' here", "2.4.2.2.s4.b2")
    if "name" in a:
        string(a["name"], _at(path, "name"), "2.4.2.1")
    found = _ifis(a, path)
    if len(found) != 1:
        fail(path, f"an Agent needs exactly one of mbox, mbox_sha1sum, openid, account (found {len(found)})",
             "2.4.2.1.s2.b1, b2")


def actor(value: Any, path: str, object_type_required: bool = False) -> None:
    """An Agent, or a Group (anonymous: members required; identified: exactly one IFI)."""
    if isinstance(value, dict) and value.get("objectType") == "Group":
        group(value, path)
    else:
        agent(value, path, object_type_required)


def group(value: Any, path: str) -> None:
    g = props(value, {"objectType", "name", "member", *IFIS}, path, "2.4.2.2")
    if g.get("objectType") != "Group":
        fail(_at(path, "objectType"), "must be 'Group'", "2.4.2.2.s2")
    if "name" in g:
        string(g["name"], _at(path, "name"), "2.4.2.2")
    found = _ifis(g, path)
    if len(found) > 1:
        fail(path, "an identified Group has exactly one inverse functional identifier", "2.4.2.2.s5.b1")
    members = g.get("member")
    if not found and not (isinstance(members, list) and members):
        fail(_at(path, "member"), "an anonymous Group must list its member Agents", "2.4.2.2.s4.b1")
    if members is not None:
        if not isinstance(members, list):
            fail(_at(path, "member"), "must be an array of Agents", "2.4.2.2.s2")
        for i, m in enumerate(members):
            agent(m, _at(_at(path, "member"), i))


# -- verb, object ----------------------------------------------------------------

def verb(value: Any, path: str) -> None:
    v = props(value, {"id", "display"}, path, "2.4.3")
    if "id" not in v:
        fail(_at(path, "id"), "is required", "2.4.3.s3")
    iri(v["id"], _at(path, "id"), "2.4.3.s3")
    if "display" in v:
        language_map(v["display"], _at(path, "display"))


def activity(value: Any, path: str) -> None:
    a = props(value, {"objectType", "id", "definition"}, path, "2.4.4.1")
    if a.get("objectType", "Activity") != "Activity":
        fail(_at(path, "objectType"), "must be 'Activity' here", "2.4.4.1.s1")
    if "id" not in a:
        fail(_at(path, "id"), "an Activity needs an id", "2.4.4.1.s1")
    iri(a["id"], _at(path, "id"), "2.4.4.1.s1")
    if "definition" in a:
        _definition(a["definition"], _at(path, "definition"))


def _definition(value: Any, path: str) -> None:
    d = props(value, {"name", "description", "type", "moreInfo", "interactionType",
                       "correctResponsesPattern", *COMPONENT_LISTS, "extensions"}, path, "2.4.4.1.s2")
    for key in ("name", "description"):
        if key in d:
            language_map(d[key], _at(path, key))
    if "type" in d:
        iri(d["type"], _at(path, "type"), "2.4.4.1.s2")
    if "moreInfo" in d:
        iri(d["moreInfo"], _at(path, "moreInfo"), "2.4.4.1.s2")
    if "extensions" in d:
        extensions(d["extensions"], _at(path, "extensions"))
    interaction = [k for k in ("correctResponsesPattern", *COMPONENT_LISTS) if k in d]
    if "interactionType" in d and d["interactionType"] not in INTERACTION_TYPES:
        fail(_at(path, "interactionType"), f"must be one of {', '.join(INTERACTION_TYPES)}", "2.4.4.1.s13.b1")
    if interaction and "interactionType" not in d:
        fail(_at(path, "interactionType"), "an interaction Activity needs a valid interactionType",
             "2.4.4.1.s13.b1")
    if "correctResponsesPattern" in d:
        pattern = d["correctResponsesPattern"]
        if not isinstance(pattern, list) or not all(isinstance(p, str) for p in pattern):
            fail(_at(path, "correctResponsesPattern"), "must be an array of strings", "2.4.4.1.s8")
    for key in COMPONENT_LISTS:
        if key in d:
            _components(d[key], _at(path, key))


def _components(value: Any, path: str) -> None:
    if not isinstance(value, list):
        fail(path, "must be an array of interaction components", "2.4.4.1.s15")
    seen: set[str] = set()
    for i, c in enumerate(value):
        at = _at(path, i)
        comp = props(c, {"id", "description"}, at, "2.4.4.1.s15")
        if "id" not in comp:
            fail(_at(at, "id"), "is required in an interaction component", "2.4.4.1.s15")
        cid = string(comp["id"], _at(at, "id"), "2.4.4.1.s15")
        if cid in seen:
            fail(_at(at, "id"), f"component id '{cid}' appears twice", "2.4.4.1.s16.b1")
        seen.add(cid)
        if "description" in comp:
            language_map(comp["description"], _at(at, "description"))


def statement_ref(value: Any, path: str) -> None:
    r = props(value, {"objectType", "id"}, path, "2.4.4.3.s4")
    if r.get("objectType") != "StatementRef":
        fail(_at(path, "objectType"), "must be 'StatementRef'", "2.4.4.3.s4.b1")
    if "id" not in r:
        fail(_at(path, "id"), "a StatementRef needs the id of a statement", "2.4.4.3.s4.b2")
    uuid_string(r["id"], _at(path, "id"), "2.4.4.3.s4.b2")


def object_type(value: Any) -> str:
    """The object's type (Activity when absent, 2.4.4.s2)."""
    return value.get("objectType", "Activity") if isinstance(value, dict) else "Activity"


def _object(value: Any, path: str, sub: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(path, "must be a JSON object", "2.4.4")
    kind = object_type(value)
    if kind not in OBJECT_TYPES:
        fail(_at(path, "objectType"), f"must be one of {', '.join(OBJECT_TYPES)}", "2.4.4.s2")
    if kind == "Activity":
        activity(value, path)
    elif kind in ("Agent", "Group"):
        actor(value, path, object_type_required=True)
    elif kind == "StatementRef":
        statement_ref(value, path)
    elif sub:
        fail(_at(path, "objectType"), "a SubStatement cannot contain another SubStatement", "2.4.4.3.s8.b4")
    else:
        return _statement(value, path, sub=True)
    return value


# -- result, context -------------------------------------------------------------

def result(value: Any, path: str) -> None:
    r = props(value, {"score", "success", "completion", "response", "duration", "extensions"}, path, "2.4.5")
    for key in ("success", "completion"):
        if key in r:
            boolean(r[key], _at(path, key), "2.4.5.s2")
    if "response" in r:
        string(r["response"], _at(path, "response"), "2.4.5.s2")
    if "duration" in r:
        duration(r["duration"], _at(path, "duration"))
    if "extensions" in r:
        extensions(r["extensions"], _at(path, "extensions"))
    if "score" in r:
        score(r["score"], _at(path, "score"))


def score(value: Any, path: str) -> None:
    s = props(value, {"scaled", "raw", "min", "max"}, path, "2.4.5.1")
    n = {k: number(s[k], _at(path, k), "2.4.5.1.s2") for k in ("scaled", "raw", "min", "max") if k in s}
    if "scaled" in n and not -1 <= n["scaled"] <= 1:
        fail(_at(path, "scaled"), "must be between -1 and 1", "2.4.5.1.s2")
    if "min" in n and "max" in n and not n["min"] < n["max"]:
        fail(_at(path, "min"), "must be less than max", "2.4.5.1.s2")
    if "raw" in n and "min" in n and n["raw"] < n["min"]:
        fail(_at(path, "raw"), "must not be below min", "2.4.5.1.s2")
    if "raw" in n and "max" in n and n["raw"] > n["max"]:
        fail(_at(path, "raw"), "must not be above max", "2.4.5.1.s2")


def context(value: Any, path: str, object_kind: str) -> dict[str, Any]:
    c = props(value, {"registration", "instructor", "team", "contextActivities", "revision", "platform",
                       "language", "statement", "extensions"}, path, "2.4.6")
    out = dict(c)
    if "registration" in c:
        out["registration"] = uuid_string(c["registration"], _at(path, "registration"), "2.4.6.s3")
    if "instructor" in c:
        actor(c["instructor"], _at(path, "instructor"))
    if "team" in c:
        if not isinstance(c["team"], dict) or c["team"].get("objectType") != "Group":
            fail(_at(path, "team"), "must be a Group (objectType 'Group')", "2.4.6.s3")
        group(c["team"], _at(path, "team"))
    for key, rule in (("revision", "2.4.6.s4.b1"), ("platform", "2.4.6.s4.b2")):
        if key in c:
            string(c[key], _at(path, key), "2.4.6.s3")
            if object_kind != "Activity":
                fail(_at(path, key), "may only be used when the object is an Activity", rule)
    if "language" in c and not (isinstance(c["language"], str) and LANG_RE.match(c["language"])):
        fail(_at(path, "language"), "must be an RFC 5646 language tag", "2.4.6.s3")
    if "statement" in c:
        statement_ref(c["statement"], _at(path, "statement"))
    if "extensions" in c:
        extensions(c["extensions"], _at(path, "extensions"))
    if "contextActivities" in c:
        at = _at(path, "contextActivities")
        ca = props(c["contextActivities"], CONTEXT_TYPES, at, "2.4.6.2.s4.b1")
        arrays = {}
        for key, acts in ca.items():
            acts = acts if isinstance(acts, list) else [acts]  # returned as arrays (2.4.6.2.s4.b3)
            for i, a in enumerate(acts):
                activity(a, _at(_at(at, key), i))
            arrays[key] = acts
        out["contextActivities"] = arrays
    return out


def _attachments(value: Any, path: str) -> None:
    if not isinstance(value, list):
        fail(path, "must be an array of Attachment objects", "2.4.11")
    for i, item in enumerate(value):
        at = _at(path, i)
        a = props(item, {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"},
                   at, "2.4.11.s2")
        for key in ("usageType", "display", "contentType", "length", "sha2"):
            if key not in a:
                fail(_at(at, key), "is required in an Attachment", "2.4.11.s2")
        iri(a["usageType"], _at(at, "usageType"), "2.4.11.s2")
        language_map(a["display"], _at(at, "display"))
        if "description" in a:
            language_map(a["description"], _at(at, "description"))
        string(a["contentType"], _at(at, "contentType"), "2.4.11.s2")
        string(a["sha2"], _at(at, "sha2"), "2.4.11.s2")
        if isinstance(a["length"], bool) or not isinstance(a["length"], int) or a["length"] < 0:
            fail(_at(at, "length"), "must be a whole number of octets", "2.4.11.s2")
        if "fileUrl" not in a:
            fail(_at(at, "fileUrl"), "attachment data must be referenced by fileUrl: this LRS does not take "
                 "multipart/mixed requests", "2.4.11")
        iri(a["fileUrl"], _at(at, "fileUrl"), "2.4.11.s2")


# -- the statement -----------------------------------------------------------------

def _statement(value: Any, path: str, sub: bool) -> dict[str, Any]:
    if sub:
        for key in ("id", "stored", "version", "authority"):
            if isinstance(value, dict) and key in value:
                fail(_at(path, key), "a SubStatement must not have id, stored, version or authority",
                     "2.4.4.3.s8.b3")
    st = props(value, SUBSTATEMENT_KEYS if sub else STATEMENT_KEYS, path, "2.4")
    for key in ("actor", "verb", "object"):
        if key not in st:
            fail(_at(path, key), "is required", "2.4.s1")
    out = dict(st)
    if "id" in st:
        out["id"] = uuid_string(st["id"], _at(path, "id"), "2.4.1")
    actor(st["actor"], _at(path, "actor"))
    verb(st["verb"], _at(path, "verb"))
    out["object"] = _object(st["object"], _at(path, "object"), sub)
    kind = object_type(st["object"])
    if st["verb"]["id"] == VOIDED_VERB and kind != "StatementRef":
        fail(_at(path, "object.objectType"), "a voiding statement's object must be a StatementRef",
             "2.3.2.s2.b1")
    if "result" in st:
        result(st["result"], _at(path, "result"))
    if "context" in st:
        out["context"] = context(st["context"], _at(path, "context"), kind)
    if "timestamp" in st:
        timestamp(st["timestamp"], _at(path, "timestamp"))
    if "stored" in st:
        timestamp(st["stored"], _at(path, "stored"))
    if "authority" in st:
        actor(st["authority"], _at(path, "authority"))
    if "version" in st and not (isinstance(st["version"], str) and VERSION_RE.match(st["version"])):
        fail(_at(path, "version"), "must start with '1.0.' (e.g. 1.0.0)", "2.4.10.s3.b2")
    if "attachments" in st:
        _attachments(st["attachments"], _at(path, "attachments"))
    return out
