"""The small part of the engine's search language the fake understands.

    search=page 2                      VMs ordered by name, page 2 (with max=)
    search=sortby name desc page 3
    search=name=app-0* and status=up
    search=correlation_id=abc          (events, jobs)

How the engine runs it (searchbackend SyntaxChecker + SearchObjectAutoCompleter,
dbscripts DBSearchTemplate/DBPagingSyntax): the result is ordered by the
clause's sort or the entity's default sort (VMs "vm_name ASC", events
"audit_log_id DESC"), numbered with ROW_NUMBER() and cut to rows
(page-1)*max+1 .. page*max. That is computed per request from the current
rows, so pages are not a snapshot. Without max the page size is unbounded:
page 1 is everything and page 2 is empty.
"""

import fnmatch
import re


class SearchError(ValueError):
    pass


FIELDS = {"name", "status", "correlation_id", "severity"}


def parse(text):
    """Returns (conditions, sort, page) for a search string (None or '' = all)."""
    conditions, sort, page = [], None, None
    if not text:
        return conditions, sort, page
    text = re.sub(r"^\s*\w+\s*:\s*", "", text)  # "Vms: ..." prefix
    tokens = text.split()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        low = tok.lower()
        if low in ("and",):
            i += 1
        elif low == "page" and i + 1 < len(tokens) and tokens[i + 1].isdigit():
            page = max(1, int(tokens[i + 1]))
            i += 2
        elif low == "sortby" and i + 1 < len(tokens):
            field = tokens[i + 1].lower()
            asc = True
            i += 2
            if i < len(tokens) and tokens[i].lower() in ("asc", "desc"):
                asc = tokens[i].lower() == "asc"
                i += 1
            sort = (field, asc)
        else:
            m = re.match(r"^([a-z_]+)(!=|=)(.+)$", tok, re.IGNORECASE)
            if not m or m.group(1).lower() not in FIELDS:
                raise SearchError("the fake does not understand the search term %r" % tok)
            conditions.append((m.group(1).lower(), m.group(2), m.group(3)))
            i += 1
    return conditions, sort, page


def matches(conditions, fields, case_sensitive=True):
    """True when a row's {field: value} satisfies every condition (`*` wildcards)."""
    for field, op, pattern in conditions:
        value = fields.get(field)
        if value is None:
            ok = False
        elif case_sensitive:
            ok = fnmatch.fnmatchcase(str(value), pattern)
        else:
            ok = fnmatch.fnmatchcase(str(value).lower(), pattern.lower())
        if (op == "=") != ok:
            return False
    return True


def cut(rows, page, max_count):
    """The engine's page cut: rows (page-1)*max+1 .. page*max, or all without max."""
    if max_count is None:
        return rows if (page or 1) == 1 else []
    start = ((page or 1) - 1) * max_count
    return rows[start:start + max_count]
