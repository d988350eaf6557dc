"""add type to task execution

Revision ID: 020
Revises: 019
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import Col, Sql, add_column_with_value

revision = "020"
down_revision = "019"

# Upstream decodes every spec with json.loads and sets type to 'WORKFLOW' when
# the Python expression `"workflow" in spec` is true, else 'ACTION':
#   * JSON object: it has a top-level key "workflow" (whatever its value);
#   * JSON array: one of its elements is the string "workflow";
#   * JSON string: it contains the substring "workflow" (case-sensitive).
# Any other spec (NULL, a JSON number, boolean or null, text that is not JSON)
# makes upstream's whole upgrade fail.  Here the same rows are refused by a
# check that runs before anything in this revision changes, with a message
# naming the row; then one set-based UPDATE per dialect classifies the rows.

_EXPLANATION = (
    "; revision 020 needs a JSON object, array or string in every row (upstream Mistral "
    "fails on such a row too). Fix or delete the row, then run upgrade again."
)

_CHECK = {
    # PostgreSQL 15 has no JSON validity test, so the fast query runs in a block
    # that catches the cast error of invalid JSON; only then are the rows cast
    # one by one to find the culprit.  `json` (not jsonb) accepts what Python's
    # json.loads accepts (e.g. \u0000 escapes).
    "postgresql": [
        f"""
DO $mdm_020$
DECLARE
    candidate record;
    row_id text;
    problem text;
BEGIN
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
    IF row_id IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE =
            'task_executions_v2 row ' || row_id || ': spec is ' || problem
            || '{_EXPLANATION}';
    END IF;
END
$mdm_020$
""",
    ],
    # MariaDB: a conditional SIGNAL, prepared from a variable so that no
    # compound statement is needed (scripts run with the mysql client).  A
    # valid JSON text is an object, array or string exactly when its first
    # non-blank character is {, [ or ": a cheap test (LEFT spares most rows
    # the regular expression) that leaves one JSON parse per row (JSON_VALID).
    "mysql": [
        f"""
SET @mdm_020_problem = (
    SELECT CONCAT('task_executions_v2 row ', id, ': spec is ',
                  CASE WHEN spec IS NULL THEN 'NULL'
                       WHEN JSON_VALID(spec) = 0 THEN 'not valid JSON'
                       WHEN JSON_TYPE(spec) = 'NULL' THEN 'JSON null'
                       WHEN JSON_TYPE(spec) = 'BOOLEAN' THEN 'a JSON boolean'
                       ELSE 'a JSON number' END,
                  '{_EXPLANATION}')
      FROM task_executions_v2
     WHERE spec IS NULL
        OR (LEFT(spec, 1) NOT IN ('{{', '[', '"') AND NOT spec REGEXP '^[[:space:]]*[[{{"]')
        OR JSON_VALID(spec) = 0
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
_CLASSIFY = {
    "postgresql": [
        r"""
UPDATE task_executions_v2 SET type = 'WORKFLOW'
 WHERE (strpos(spec, '"workflow"') > 0 OR strpos(spec, '\u') > 0 OR spec ~ '^\s*"')
   AND CASE WHEN spec ~ '^\s*\{' THEN spec::json -> 'workflow' IS NOT NULL
            WHEN spec ~ '^\s*\[' THEN 'workflow' IN (SELECT json_array_elements_text(spec::json))
            WHEN spec ~ '^\s*"' THEN strpos(spec::json #>> '{}', 'workflow') > 0
            ELSE false
       END
""",
    ],
    "mysql": [
        # One pass over the candidates.  LOCATE with a binary argument compares
        # case-sensitively (the column's collation would not); CHAR(92) is a
        # backslash.  JSON_CONTAINS_PATH does not decode escaped keys and
        # JSON_SEARCH ignores case, so arrays, and the keys of objects written
        # with \u escapes, are unpacked with JSON_TABLE, whose string columns
        # hold the decoded text.
        """
UPDATE task_executions_v2 SET type = 'WORKFLOW'
 WHERE (LOCATE(BINARY '"workflow"', spec) > 0 OR LOCATE(CONCAT(CHAR(92), 'u'), spec) > 0
        OR (LEFT(spec, 1) NOT IN ('{', '[') AND spec REGEXP '^[[:space:]]*"'))
   AND CASE WHEN spec REGEXP '^[[:space:]]*[{]' THEN
                JSON_CONTAINS_PATH(spec, 'one', '$.workflow')
                OR (LOCATE(CONCAT(CHAR(92), 'u'), spec) > 0
                    AND EXISTS (SELECT 1
                                  FROM JSON_TABLE(JSON_KEYS(spec), '$[*]'
                                                  COLUMNS (k LONGTEXT PATH '$')) AS object_keys
                                 WHERE BINARY object_keys.k = 'workflow'))
            WHEN spec REGEXP '^[[:space:]]*[[]' THEN
                EXISTS (SELECT 1
                          FROM JSON_TABLE(spec, '$[*]'
                                          COLUMNS (v LONGTEXT PATH '$',
                                                   j JSON PATH '$')) AS elements
                         WHERE BINARY elements.v = 'workflow'
                           AND JSON_TYPE(elements.j) = 'STRING')
            WHEN spec REGEXP '^[[:space:]]*"' THEN
                LOCATE(BINARY 'workflow', JSON_UNQUOTE(spec)) > 0
            ELSE 0
       END
""",
    ],
    "sqlite": [
        """
UPDATE task_executions_v2 SET type = 'WORKFLOW'
 WHERE (instr(spec, '"workflow"') > 0 OR instr(spec, '\\u') > 0
        OR ltrim(spec, ' ' || char(9, 10, 13)) LIKE '"%')
   AND CASE json_type(spec)
       WHEN 'object' THEN EXISTS (SELECT 1 FROM json_each(task_executions_v2.spec) AS e
                                   WHERE e.key = 'workflow')
       WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(task_executions_v2.spec) AS e
                                  WHERE e.type = 'text' AND e.value = 'workflow')
       WHEN 'text' THEN instr(json_extract(spec, '$'), 'workflow') > 0
       ELSE 0
       END
""",
    ],
}

operations = [
    # A check, not a change: no table is named, so an interrupted MySQL run
    # never takes it for done and always runs it again.
    Sql(
        "check that every task_executions_v2.spec is a JSON object, array or string",
        _CHECK,
        data=False,
    ),
    # Every existing row starts as an ACTION (constant time on PostgreSQL and
    # MariaDB); the UPDATE below turns the workflow tasks into WORKFLOW.
    *add_column_with_value("task_executions_v2", Col("type", String(10)), "'ACTION'"),
    Sql(
        "set task_executions_v2.type to WORKFLOW where the spec says so",
        _CLASSIFY,
        table_names=("task_executions_v2",),
    ),
]
