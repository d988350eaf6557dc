"""add type to task execution

Revision ID: 020
Revises: 019
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String

from mistral_db_manage.migrations.ops import Col, RunContext, Sql, add_column_with_value
from mistral_db_manage.migrations.refusing_fill import RefusingFill
from mistral_db_manage.migrations.work import Rewrite, Scan

revision = "020"
down_revision = "019"

# Upstream decodes every spec with json.loads and sets type to 'WORKFLOW' when
# the Python expression `"workflow" in spec` is true, else 'ACTION':
#   * JSON object: it has a top-level key "workflow" (whatever its value);
#   * JSON array: one of its elements is the string "workflow";
#   * JSON string: it contains the substring "workflow" (case-sensitive).
# Any other spec (NULL, a JSON number, boolean or null, text that is not JSON)
# makes upstream's whole upgrade fail.  Here the same rows are refused with a
# message naming the row, and the revision leaves nothing changed: on
# PostgreSQL by the one pass that also classifies the rows, inside the
# revision's transaction; on MySQL online by the one pass too, after which a
# refusal drops the new column again (see RefusingFill); on SQLite and in a
# MySQL script by a check that runs first.  The rows are classified by one
# set-based UPDATE per dialect.

_EXPLANATION = (
    "; revision 020 needs a JSON object, array or string in every row (upstream Mistral "
    "fails on such a row too). Fix or delete the row, then run upgrade again."
)

# MariaDB's JSON functions refuse a lone surrogate escape (\ud800), which
# json.loads accepts: a spec that holds one is read with every surrogate escape
# made \u0001, which changes no key, element or "workflow" substring.
# CHAR(92) is a backslash (whatever NO_BACKSLASH_ESCAPES says).
_MY_DECODABLE = (
    "REGEXP_REPLACE(spec, CONCAT(CHAR(92), CHAR(92), 'u[dD][89a-fA-F][0-9a-fA-F]{2}'), "
    "CONCAT(CHAR(92), CHAR(92), 'u0001'))"
)
# BINARY: LOCATE compares by the column's collation otherwise, a case-folding
# search that took 8 s of 020's 25 s at N=200,000 (a JSON escape is a lowercase
# \u; its hex digits are of either case, hence 'ud' and 'uD').
_MY_SPEC = (
    "IF(LOCATE(BINARY CONCAT(CHAR(92), 'ud'), spec) > 0 "
    f"OR LOCATE(BINARY CONCAT(CHAR(92), 'uD'), spec) > 0, {_MY_DECODABLE}, spec)"
)

# SQLite's JSON functions end a decoded string at a \u0000 escape.
_SQ_SPEC = "replace(task_executions_v2.spec, '\\u0000', '\\u0001')"

# MariaDB: a row to refuse.  A valid JSON text is an object, array or string
# exactly when its first non-blank character is {, [ or ": a cheap test (LEFT
# spares most rows the regular expression) that leaves one JSON parse per row
# (JSON_VALID).
_MY_PROBLEM = f"""spec IS NULL
        OR (LEFT(spec, 1) NOT IN ('{{', '[', '"') AND NOT spec REGEXP '^[[:space:]]*[[{{"]')
        OR (JSON_VALID(spec) = 0 AND JSON_VALID({_MY_DECODABLE}) = 0)"""

_CHECK = {
    # MariaDB: a conditional SIGNAL, prepared from a variable so that no
    # compound statement is needed (scripts run with the mysql client).
    "mysql": [
        f"""
SET @mdm_020_problem = (
    SELECT CONCAT('task_executions_v2 row ', id, ': spec is ',
                  CASE WHEN spec IS NULL THEN 'NULL'
                       WHEN JSON_VALID({_MY_DECODABLE}) = 0 THEN 'not valid JSON'
                       WHEN JSON_TYPE({_MY_DECODABLE}) = 'NULL' THEN 'JSON null'
                       WHEN JSON_TYPE({_MY_DECODABLE}) = 'BOOLEAN' THEN 'a JSON boolean'
                       ELSE 'a JSON number' END,
                  '{_EXPLANATION}')
      FROM task_executions_v2
     WHERE {_MY_PROBLEM}
     LIMIT 1)
""",
        """
SET @mdm_020_check = IF(@mdm_020_problem IS NULL, 'DO 0',
                        'SIGNAL SQLSTATE ''45000'' SET MESSAGE_TEXT = @mdm_020_problem')
""",
        "PREPARE mdm_020_check FROM @mdm_020_check",
        "EXECUTE mdm_020_check",
        "DEALLOCATE PREPARE mdm_020_check",
    ],
    # SQLite has no RAISE outside triggers: json_extract() with an invalid
    # path fails with an error that quotes the path, here the message.
    "sqlite": [
        f"""
SELECT json_extract('{{}}', 'task_executions_v2 row ' || id || ': spec is '
                    || CASE WHEN spec IS NULL THEN 'NULL'
                            WHEN NOT json_valid(spec) THEN 'not valid JSON'
                            WHEN json_type(spec) = 'null' THEN 'JSON null'
                            WHEN json_type(spec) IN ('true', 'false') THEN 'a JSON boolean'
                            ELSE 'a JSON number' END
                    || '{_EXPLANATION}')
  FROM task_executions_v2
 WHERE CASE WHEN spec IS NULL OR NOT json_valid(spec) THEN 1
            WHEN json_type(spec) IN ('object', 'array', 'text') THEN 0
            ELSE 1 END
 LIMIT 1
""",
    ],
}

# Only rows whose text could make them a WORKFLOW are parsed again: a key or
# an array element "workflow" is written "workflow", quotes included, unless a
# \u escape spells it, and a string spec starts with a quote.  Every other
# row is an ACTION, the value the column is added with.

# PostgreSQL: the texts that can hold a key or an element "workflow" (E'\\u'
# is a backslash and a u, whatever standard_conforming_strings says).
_PG_CANDIDATE = "(strpos(spec, '\"workflow\"') > 0 OR strpos(spec, E'\\\\u') > 0)"


def _pg_is_workflow(text: str, *, parallel: bool = False) -> str:
    """PostgreSQL: whether the spec ``text`` (an SQL expression) makes a WORKFLOW;
    a row to refuse fails a cast of its id to json (``|| ' !'`` is never JSON).
    The text search spares the second parse to the rows that cannot be a
    WORKFLOW (two thirds of them in the benchmark: 0.5 s of 7 s at N=200,000).
    ``parallel``: without a subquery, which keeps a query from running in
    parallel workers; an array's elements are then found by jsonb's ``?`` (a
    string element equal to the key), which refuses what json.loads accepts
    more often than ``json`` does (a number too large, \\u0000), so that form
    only runs where any failure falls back to the other one."""
    elements = (f"({text})::jsonb ? 'workflow'" if parallel else
                f"'workflow' IN (SELECT json_array_elements_text(({text})::json))")
    return f"""CASE json_typeof(spec::json)
           WHEN 'object' THEN {_PG_CANDIDATE} AND ({text})::json -> 'workflow' IS NOT NULL
           WHEN 'array' THEN {_PG_CANDIDATE}
                AND {elements}
           WHEN 'string' THEN strpos(({text})::json #>> '{{}}', 'workflow') > 0
           ELSE (id || ' !')::json IS NULL
           END"""


# `->` and its kin decode the strings they pass, and PostgreSQL cannot decode
# \u0000 or a lone surrogate escape, which json.loads accepts; such escapes
# are made \u0001 first, which changes no key, element or "workflow" substring.
_PG_DECODABLE = r"regexp_replace(spec, '\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})', '\\u0001', 'g')"

# MariaDB: the rows that are WORKFLOWs, among the candidates.  LOCATE with a
# binary argument compares case-sensitively (the column's collation would
# not); CHAR(92) is a backslash.  JSON_CONTAINS_PATH does not decode escaped
# keys and JSON_SEARCH ignores case, so arrays, and the keys of objects
# written with \u escapes, are unpacked with JSON_TABLE, whose string
# columns hold the decoded text.
_MY_WORKFLOW = """(LOCATE(BINARY '"workflow"', spec) > 0
        OR LOCATE(BINARY CONCAT(CHAR(92), 'u'), spec) > 0
        OR (LEFT(spec, 1) NOT IN ('{', '[') AND spec REGEXP '^[[:space:]]*"'))
   AND CASE WHEN LEFT(spec, 1) = '{' OR spec REGEXP '^[[:space:]]*[{]' THEN
                JSON_CONTAINS_PATH(<SPEC>, 'one', '$.workflow')
                OR (LOCATE(BINARY CONCAT(CHAR(92), 'u'), spec) > 0
                    AND EXISTS (SELECT 1
                                  FROM JSON_TABLE(JSON_KEYS(<SPEC>), '$[*]'
                                                  COLUMNS (k LONGTEXT PATH '$')) AS object_keys
                                 WHERE BINARY object_keys.k = 'workflow'))
            WHEN LEFT(spec, 1) = '[' OR spec REGEXP '^[[:space:]]*[[]' THEN
                EXISTS (SELECT 1
                          FROM JSON_TABLE(<SPEC>, '$[*]'
                                          COLUMNS (v LONGTEXT PATH '$',
                                                   j JSON PATH '$')) AS elements
                         WHERE BINARY elements.v = 'workflow'
                           AND JSON_TYPE(elements.j) = 'STRING')
            WHEN LEFT(spec, 1) = '"' OR spec REGEXP '^[[:space:]]*"' THEN
                LOCATE(BINARY 'workflow', JSON_UNQUOTE(<SPEC>)) > 0
            ELSE 0
       END
""".replace("<SPEC>", _MY_SPEC)

_CLASSIFY = {
    # PostgreSQL runs a revision in one transaction, so the check and the
    # classification are one pass, which validates every spec and parses
    # again only the candidates (each reading decompresses the spec, yet a
    # text search still costs less than the parse it spares; one jsonb parse
    # per row measured slower than both), and a refusal rolls the whole
    # revision back.  PostgreSQL 15 has no JSON validity test;
    # json_typeof(spec::json) validates without decoding, and `json` (not
    # jsonb) accepts what json.loads accepts (numbers of any size, duplicate
    # keys).
    #
    # First the fast form: the pass is a query of its own, which PostgreSQL
    # runs in parallel workers (an UPDATE never is), into a temporary table of
    # the WORKFLOW rows' physical addresses, then one UPDATE that fetches just
    # those rows.  At N=200,000 on 2 cores: 3.4 s instead of 4.6 s.  The
    # addresses stay valid: the table is locked against writers (held already
    # when the revision runs as one transaction; a script run in autocommit
    # takes it here).  parallel_tuple_cost 0: the planner otherwise keeps the
    # pass in one process, the rows it returns priced as if the JSON tests
    # cost nothing.  Any failure of the fast form (a row to refuse, an escape
    # jsonb or json cannot decode, no right to create temporary tables) undoes
    # it and the one-statement form below runs instead, as before: it is
    # repeated with undecodable escapes replaced only when it fails; when
    # that fails too, the handler finds the first row to refuse and raises
    # the explanation.
    "postgresql": [
        f"""
DO $mdm_020$
DECLARE
    candidate record;
    row_id text;
    problem text;
    tuple_cost text := current_setting('parallel_tuple_cost');
BEGIN
    BEGIN
        LOCK TABLE task_executions_v2 IN EXCLUSIVE MODE;
        PERFORM set_config('parallel_tuple_cost', '0', true);
        CREATE TEMPORARY TABLE mdm_020_workflows ON COMMIT DROP AS
            SELECT ctid AS row_tid FROM task_executions_v2
             WHERE {_pg_is_workflow("spec", parallel=True)};
        PERFORM set_config('parallel_tuple_cost', tuple_cost, true);
        UPDATE task_executions_v2 SET type = 'WORKFLOW'
         WHERE ctid = ANY (ARRAY(SELECT row_tid FROM mdm_020_workflows));
        DROP TABLE mdm_020_workflows;
        RETURN;
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
    BEGIN
        UPDATE task_executions_v2 SET type = 'WORKFLOW'
         WHERE {_pg_is_workflow("spec")};
    EXCEPTION WHEN invalid_text_representation OR untranslatable_character THEN
        UPDATE task_executions_v2 SET type = 'WORKFLOW'
         WHERE {_pg_is_workflow(_PG_DECODABLE)};
    END;
EXCEPTION WHEN invalid_text_representation THEN
    BEGIN
        SELECT id, CASE WHEN spec IS NULL THEN 'NULL'
                        WHEN json_typeof(spec::json) = 'null' THEN 'JSON null'
                        ELSE 'a JSON ' || json_typeof(spec::json) END
          INTO row_id, problem
          FROM task_executions_v2
         WHERE spec IS NULL OR json_typeof(spec::json) NOT IN ('object', 'array', 'string')
         LIMIT 1;
    EXCEPTION WHEN invalid_text_representation THEN
        FOR candidate IN SELECT id, spec FROM task_executions_v2 LOOP
            BEGIN
                PERFORM candidate.spec::json;
            EXCEPTION WHEN invalid_text_representation THEN
                row_id := candidate.id;
                problem := 'not valid JSON';
                EXIT;
            END;
        END LOOP;
    END;
    IF row_id IS NULL THEN
        RAISE;
    END IF;
    RAISE EXCEPTION USING MESSAGE =
        'task_executions_v2 row ' || row_id || ': spec is ' || problem || '{_EXPLANATION}';
END
$mdm_020$
""",
    ],
    "sqlite": [
        """
UPDATE task_executions_v2 SET type = 'WORKFLOW'
 WHERE (instr(spec, '"workflow"') > 0 OR instr(spec, '\\u') > 0
        OR ltrim(spec, ' ' || char(9, 10, 13)) LIKE '"%')
   AND CASE json_type(spec)
       WHEN 'object' THEN EXISTS (SELECT 1 FROM json_each(<SPEC>) AS e
                                   WHERE e.key = 'workflow')
       WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(<SPEC>) AS e
                                  WHERE e.type = 'text' AND e.value = 'workflow')
       WHEN 'text' THEN instr(json_extract(<SPEC>, '$'), 'workflow') > 0
       ELSE 0
       END
""".replace("<SPEC>", _SQ_SPEC),
    ],
}

_TYPE = Col("type", String(10))


def _check_in_scripts(ctx: RunContext) -> Sequence[str]:
    """MySQL: the check runs first only in a script; online the fill refuses."""
    return _CHECK["mysql"] if ctx.offline else ()


operations = [
    # Checks, not changes: they name no table, so a run interrupted while
    # checking checks again.  PostgreSQL checks while it classifies, and so
    # does MySQL online (see RefusingFill); a MySQL script checks first, as its
    # operation 1 (the operations MySQL's journal counts are 1 to 4, as before
    # the fill refused rows itself).
    Sql(
        "check that every task_executions_v2.spec is a JSON object, array or string",
        _CHECK,
        data=False,
        dialects=("sqlite",),
        work=(Scan("task_executions_v2", parses_json=True),),
    ),
    Sql(
        "check that every task_executions_v2.spec is a JSON object, array or string "
        "(in an SQL script; online the fill below refuses the same rows)",
        _check_in_scripts,
        data=False,
        dialects=("mysql",),
        work=(),
    ),
    # Every existing row starts as an ACTION (constant time on PostgreSQL and
    # MariaDB); the UPDATE below turns the workflow tasks into WORKFLOW.
    *add_column_with_value("task_executions_v2", _TYPE, "'ACTION'"),
    RefusingFill(
        "set task_executions_v2.type to WORKFLOW where the spec says so",
        _CLASSIFY,
        table_names=("task_executions_v2",),
        # a third of the tasks are workflow tasks in a typical deployment (an estimate)
        work=(Scan("task_executions_v2", parses_json=True), Rewrite("task_executions_v2", 0.35)),
        # PostgreSQL: the pass runs in parallel workers (see above): on 2 cores, 2 at once
        parallel={"postgresql": 2},
        table="task_executions_v2",
        column=_TYPE,
        default="'ACTION'",
        value="'WORKFLOW'",
        condition=_MY_WORKFLOW,
        problem=_MY_PROBLEM,
        check=_CHECK["mysql"],
    ),
]
