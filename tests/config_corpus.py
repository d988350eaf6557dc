# ruff: noqa: E501  (configuration files as the tools write them: long lines are data)
"""The corpus of configuration cases resolved by oslo.config and by this tool.

Each :class:`Case` is a small tree of files under a root directory (``home/`` stands
for ``$HOME``), the command line before the command (paths relative to the root,
which is the current directory), and the environment.  The files have the shapes
that kolla-ansible, openstack-ansible, puppet, devstack and openstack-helm write,
combined with the variations operators meet (default locations, leftovers of
removed option names, ``conf.d`` directories, the environment variable, the order
of ``--config-dir`` and ``--config-file``), plus INI edge cases.  Written for these
tests; no tool's template is copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: the command every case runs after its options
COMMAND = ("upgrade", "head")

PW = "Xk3vQ9pLr2Tz8NwB5yHc"
PG = f"postgresql+psycopg2://mistral:{PW}@192.0.2.20/mistral"
MY = f"mysql+pymysql://mistral:{PW}@192.0.2.30:3306/mistral"
OTHER = "mysql+pymysql://mistral:other@192.0.2.99/mistral_old"


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, str | bytes]
    argv: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    #: options after the command (upstream refuses them)
    after: tuple[str, ...] = ()


# --------------------------------------------------------------------------- tool shapes


def kolla(url: str) -> str:
    return f"""[DEFAULT]
debug = False
log_dir = /var/log/kolla/mistral
transport_url = rabbit://openstack:Qw7pZ2xY@192.0.2.10:5672//

[api]
host = 192.0.2.10
port = 8989

[database]
connection = {url}
connection_recycle_time = 10
max_pool_size = 1
max_retries = -1

[keystone_authtoken]
service_type = workflowv2
www_authenticate_uri = http://192.0.2.100:5000
auth_url = http://192.0.2.100:5000
auth_type = password
project_domain_id = default
user_domain_id = default
project_name = service
username = mistral
password = R4nd0mKollaGenpwdOutput0123456789abcdef
memcache_security_strategy = ENCRYPT
memcache_secret_key = 8c1f3e
memcached_servers = 192.0.2.10:11211

[oslo_messaging_notifications]
transport_url = rabbit://openstack:Qw7pZ2xY@192.0.2.10:5672//
driver = noop

[oslo_middleware]
enable_proxy_headers_parsing = True
"""


def openstack_ansible(url: str) -> str:
    return f"""# Ansible managed

[DEFAULT]
debug = False
transport_url = rabbit://mistral:Ab12@10.0.0.11:5671,mistral:Ab12@10.0.0.12:5671//mistral?ssl=1
executor_thread_pool_size = 64

[api]
api_workers = 4

[database]
connection = {url}?charset=utf8&ssl_verify_cert=true
max_overflow = 50
max_pool_size = 5
pool_timeout = 30
connection_recycle_time = 600

[keystone_authtoken]
insecure = False
auth_type = password
auth_url = http://10.0.0.2:5000/v3
www_authenticate_uri = http://10.0.0.2:5000
project_domain_id = default
user_domain_id = default
project_name = service
username = mistral
password = 0saPassw0rd
region_name = RegionOne
memcached_servers = 10.0.0.11:11211,
    10.0.0.12:11211

[oslo_policy]
policy_file = policy.yaml
"""


def puppet(url: str) -> str:
    # puppet's ini provider writes key=value without spaces
    return f"""[DEFAULT]
debug=False
transport_url=rabbit://mistral:pw@192.0.2.40:5672/
rpc_response_timeout=60
[database]
connection={url}
max_retries=10
db_max_retries=20
[keystone_authtoken]
auth_url=http://192.0.2.41:5000
password=puppet_secret
[oslo_concurrency]
lock_path=/var/lib/mistral/tmp
"""


def devstack(url: str) -> str:
    return f"""[DEFAULT]
debug = True
transport_url = rabbit://stackrabbit:secretrabbit@10.1.1.1:5672/
logging_context_format_string = %(asctime)s.%(msecs)03d %(levelname)s %(name)s [%(request_id)s %(project_name)s %(user_name)s] %(instance)s%(message)s

[database]
connection = {url}

[oslo_policy]
policy_file = /etc/mistral/policy.yaml

[coordination]
backend_url = etcd3+http://10.1.1.1:2379

[keystone_authtoken]
memcached_servers = localhost:11211
cafile = /opt/stack/data/ca-bundle.pem
project_domain_name = Default
password = secretadmin

[database]
max_pool_size = 2
"""


def openstack_helm(url: str) -> str:
    return f"""[DEFAULT]
log_config_append = /etc/mistral/logging.conf
transport_url = rabbit://mistral:password@rabbitmq-rabbitmq-0.rabbitmq.openstack.svc.cluster.local:5672/mistral
[api]
port = 8989
[coordination]
backend_url = memcached://memcached.openstack.svc.cluster.local:11211
[database]
max_retries = -1
connection = {url}
[keystone_authtoken]
auth_type = password
auth_version = v3
memcache_security_strategy = ENCRYPT
[oslo_messaging_notifications]
driver = messagingv2
driver = log
"""


TOOLS = {
    "kolla": kolla,
    "osa": openstack_ansible,
    "puppet": puppet,
    "devstack": devstack,
    "helm": openstack_helm,
}


def _crlf_bom(text: str) -> bytes:
    return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()


def tool_cases() -> list[Case]:
    cases: list[Case] = []
    etc = "etc/mistral/mistral.conf"
    for tool, shape in TOOLS.items():
        url = MY if tool != "devstack" else f"{MY}?charset=utf8"
        base = shape(url)
        other = shape(PG)
        leftover = base.replace("[DEFAULT]\n", f"[DEFAULT]\nsql_connection = {OTHER}\n", 1)
        trailing = base + f"\n[sql]\nconnection = {OTHER}\n"
        variants = [
            Case("file", {etc: base}, ("--config-file", etc)),
            Case("home-dot-mistral", {"home/.mistral/mistral.conf": base}),
            Case("home-and-prog-file", {"home/mistral.conf": other,
                                        "home/mistral-db-manage.conf": base}),
            Case("leftover-sql-connection", {etc: leftover}, ("--config-file", etc)),
            Case("leftover-sql-section", {etc: trailing}, ("--config-file", etc)),
            Case("leftover-in-later-file", {etc: base, "etc/mistral/old.conf":
                                            f"[DEFAULT]\nsql_connection = {OTHER}\n"},
                 ("--config-file", etc, "--config-file", "etc/mistral/old.conf")),
            Case("conf-d-after-file", {etc: base, "etc/mistral/mistral.conf.d/50-db.conf":
                                       f"[database]\nconnection = {PG}\n"},
                 ("--config-file", etc, "--config-dir", "etc/mistral/mistral.conf.d")),
            Case("conf-d-before-file", {etc: base, "etc/mistral/mistral.conf.d/50-db.conf":
                                        f"[database]\nconnection = {PG}\n"},
                 ("--config-dir", "etc/mistral/mistral.conf.d", "--config-file", etc)),
            Case("environment", {etc: base}, ("--config-file", etc),
                 env={"OS_DATABASE__CONNECTION": PG}),
            Case("conf-d-leftover", {etc: base, "etc/mistral/mistral.conf.d/90-old.conf":
                                     f"[sql]\nconnection = {OTHER}\n"},
                 ("--config-file", etc, "--config-dir", "etc/mistral/mistral.conf.d")),
            Case("only-removed-name", {etc: base.replace("connection = ", "sql_connection = ")
                                       .replace("connection=", "sql_connection=")},
                 ("--config-file", etc)),
            Case("upper-database-section", {etc: base.replace("[database]", "[DATABASE]")},
                 ("--config-file", etc)),
            Case("crlf-bom", {etc: _crlf_bom(base)}, ("--config-file", etc)),
            Case("encoded-password", {etc: shape(MY.replace(PW, "p%40ss%2Fw%3Ard%25"))},
                 ("--config-file", etc)),
            Case("options-after-command", {etc: base, "etc/mistral/two.conf":
                                           f"[database]\nconnection = {PG}\n"},
                 ("--config-file", etc), after=("--config-file", "etc/mistral/two.conf")),
            Case("default-conf-d", {"home/.mistral/mistral.conf": base,
                                    "home/.mistral/mistral.conf.d/10.conf":
                                    f"[database]\nconnection = {PG}\n"}),
        ]
        cases.extend(
            Case(f"{tool}-{v.name}", v.files, v.argv, v.env, v.after) for v in variants
        )
    return cases


# --------------------------------------------------------------------------- INI edge cases


def _db(value: str) -> str:
    return f"[database]\nconnection = {value}\n"


#: name -> content of the one file given with --config-file
INI_EDGES: dict[str, str | bytes] = {
    "plain": _db(MY),
    "colon-separator": f"[database]\nconnection: {MY}\n",
    "no-spaces": f"[database]\nconnection={MY}\n",
    "tab-around-equals": f"[database]\nconnection\t=\t{MY}\n",
    "trailing-spaces": f"[database]\nconnection = {MY}   \n",
    "double-quoted": f'[database]\nconnection = "{MY}"\n',
    "single-quoted": f"[database]\nconnection = '{MY}'\n",
    "unbalanced-quote": f'[database]\nconnection = "{MY}\n',
    "inner-quote": '[database]\nconnection = "mysql://u:a"b@h/db"\n',
    "hash-comment": f"# connection = {OTHER}\n[database]\n# connection = {OTHER}\nconnection = {MY}\n",
    "semicolon-comment": f"[database]\n; connection = {OTHER}\nconnection = {MY}\n",
    "inline-hash-kept": f"[database]\nconnection = {MY} # the primary\n",
    "inline-semicolon-kept": f"[database]\nconnection = {MY} ; note\n",
    "comment-indented": f"[database]\nconnection = {MY}\n  # indented comment\n",
    "continuation": "[database]\nconnection = mysql+pymysql://mistral:pw@h\n  /mistral\n",
    "continuation-then-blank": f"[database]\nconnection = {MY}\n\n  # after a blank\n",
    "duplicate-key-last-wins": f"[database]\nconnection = {OTHER}\nconnection = {MY}\n",
    "duplicate-section": f"[database]\nconnection = {OTHER}\n[DEFAULT]\ndebug = true\n"
                         f"[database]\nconnection = {MY}\n",
    "duplicate-section-no-key": f"[database]\nconnection = {MY}\n[database]\nmax_retries = 3\n",
    "upper-DATABASE": f"[DATABASE]\nconnection = {MY}\n",
    "mixed-Database": f"[Database]\nconnection = {MY}\n",
    "upper-and-lower": f"[DATABASE]\nconnection = {OTHER}\n[database]\nconnection = {MY}\n",
    "lower-default-section": f"[default]\nsql_connection = {OTHER}\n[database]\nconnection = {MY}\n",
    "option-case-sensitive": f"[database]\nConnection = {OTHER}\nconnection = {MY}\n",
    "option-upper-only": f"[database]\nCONNECTION = {MY}\n",
    "section-spaces": f"[ database ]\nconnection = {MY}\n",
    "dollar-dollar": "[database]\nconnection = mysql+pymysql://mistral:pa$$word@h/mistral\n",
    "backslash-dollar": "[database]\nconnection = mysql+pymysql://mistral:pa\\$word@h/mistral\n",
    "dollar-unknown": "[database]\nconnection = mysql+pymysql://mistral:pa$word@h/mistral\n",
    "dollar-at-end": "[database]\nconnection = mysql+pymysql://mistral:pass$@h/mistral\n",
    "dollar-digit": "[database]\nconnection = mysql+pymysql://mistral:pa$1x@h/mistral\n",
    "dollar-brace-unclosed": "[database]\nconnection = mysql+pymysql://mistral:pa${x@h/mistral\n",
    "dollar-database-option": "[database]\nconnection = mysql+pymysql://mistral:pw@h/m?x=${database.max_pool_size}\nmax_pool_size = 7\n",
    "dollar-registered-default": "[database]\nconnection = mysql+pymysql://mistral:pw@h/m?x=$max_pool_size\nmax_pool_size = 9\n",
    "dollar-unregistered-default": "[DEFAULT]\ndb_host = 192.0.2.7\n[database]\nconnection = mysql+pymysql://mistral:pw@$db_host/mistral\n",
    "dollar-registered-unset": "[database]\nconnection = mysql+pymysql://mistral:pw@h/m?pool=${database.max_pool_size}\n",
    "dollar-self": "[database]\nconnection = $connection\n",
    "percent-literal": "[database]\nconnection = mysql+pymysql://mistral:50%off@h/mistral\n",
    "percent-interpolation-kept": "[DEFAULT]\nx = 1\n[database]\nconnection = mysql+pymysql://u:%(x)s@h/m\n",
    "encoded-at": "[database]\nconnection = mysql+pymysql://mistral:p%40ss@h/mistral\n",
    "encoded-everything": "[database]\nconnection = postgresql://mistral:%21%23%24%25%26%2F%3A%3F%40@h/m\n",
    "unicode-password": "[database]\nconnection = postgresql://mistral:pässwörd@h/mistral\n",
    "bom": b"\xef\xbb\xbf" + _db(MY).encode(),
    "crlf": _db(MY).replace("\n", "\r\n").encode(),
    "cr-only": _db(MY).replace("\n", "\r").encode(),
    "bom-crlf-continuation": b"\xef\xbb\xbf[database]\r\nconnection = mysql://u:p@h\r\n  /db\r\n",
    "no-final-newline": f"[database]\nconnection = {MY}",
    "empty-value": "[database]\nconnection =\n",
    "empty-value-quoted": '[database]\nconnection = ""\n',
    "whitespace-value": "[database]\nconnection =    \n",
    "empty-file": "",
    "comments-only": "# nothing here\n; nor here\n",
    "key-before-section": f"connection = {MY}\n[database]\nconnection = {MY}\n",
    "unclosed-section": f"[database\nconnection = {MY}\n",
    "empty-section-name": f"[]\nconnection = {MY}\n",
    "no-separator": "[database]\nconnection\n",
    "empty-key": "[database]\n= x\n",
    "leading-indent-first-line": f"  [database]\nconnection = {MY}\n",
    "not-utf8": b"[database]\nconnection = mysql://u:\xff@h/db\n",
    "latin1-comment": b"# caf\xe9\n[database]\nconnection = mysql://u:p@h/db\n",
    "sqlite-relative": "[database]\nconnection = sqlite:///mistral.sqlite\n",
    "sqlite-absolute": "[database]\nconnection = sqlite:////var/lib/mistral/mistral.sqlite\n",
    "sqlite-memory": "[database]\nconnection = sqlite://\n",
    "query-string": "[database]\nconnection = mysql+pymysql://u:p@h/m?charset=utf8&plugin=dbcounter\n",
    "ipv6-host": "[database]\nconnection = postgresql://u:p@[2001:db8::1]:5432/m\n",
    "unix-socket": "[database]\nconnection = mysql+pymysql://u:p@/m?unix_socket=/run/mysqld/mysqld.sock\n",
    "only-DEFAULT-sql_connection": f"[DEFAULT]\nsql_connection = {MY}\n",
    "only-database-sql_connection": f"[database]\nsql_connection = {MY}\n",
    "only-DATABASE-sql_connection": f"[DATABASE]\nsql_connection = {MY}\n",
    "only-sql-connection": f"[sql]\nconnection = {MY}\n",
    "removed-after-canonical": f"[database]\nconnection = {MY}\nsql_connection = {OTHER}\n",
    "removed-before-canonical": f"[DEFAULT]\nsql_connection = {OTHER}\n[database]\nconnection = {MY}\n",
    "slave-connection-only": f"[database]\nslave_connection = {MY}\n",
    "connection-in-default": f"[DEFAULT]\nconnection = {MY}\n",
    "very-long-value": _db(MY + "?x=" + "a" * 5000),
    "many-sections": "".join(f"[s{i}]\nk = v\n" for i in range(200)) + _db(MY),
    "value-with-equals": "[database]\nconnection = mysql://u:a=b@h/m?x=1=2\n",
    "value-with-colon-key": "[database]\nconnection: mysql://u:p@h/m\n",
}


def ini_cases() -> list[Case]:
    return [
        Case(f"ini-{name}", {"m.conf": content}, ("--config-file", "m.conf"))
        for name, content in INI_EDGES.items()
    ]


# --------------------------------------------------------------------------- order, env, defaults


def order_cases() -> list[Case]:
    a, b, c = _db("sqlite:///a"), _db("sqlite:///b"), _db("sqlite:///c")
    two_dirs = {"d1/x.conf": a, "d2/x.conf": b, "f.conf": c}
    cases = [
        Case("order-file-file", {"a.conf": a, "b.conf": b},
             ("--config-file", "a.conf", "--config-file", "b.conf")),
        Case("order-file-file-reversed", {"a.conf": a, "b.conf": b},
             ("--config-file", "b.conf", "--config-file", "a.conf")),
        Case("order-same-file-twice", {"a.conf": a, "b.conf": b},
             ("--config-file", "a.conf", "--config-file", "b.conf", "--config-file", "a.conf")),
        Case("order-dir-file", two_dirs, ("--config-dir", "d1", "--config-file", "f.conf")),
        Case("order-file-dir", two_dirs, ("--config-file", "f.conf", "--config-dir", "d1")),
        Case("order-dir-file-dir", two_dirs,
             ("--config-dir", "d1", "--config-file", "f.conf", "--config-dir", "d2")),
        Case("order-file-dir-dir", two_dirs,
             ("--config-file", "f.conf", "--config-dir", "d2", "--config-dir", "d1")),
        Case("order-dir-dir-file", two_dirs,
             ("--config-dir", "d2", "--config-dir", "d1", "--config-file", "f.conf")),
        Case("order-equals-form", two_dirs, ("--config-dir=d1", "--config-file=f.conf")),
        Case("dir-sorted", {"d/10-a.conf": a, "d/20-b.conf": b, "d/9-c.conf": c},
             ("--config-dir", "d")),
        Case("dir-ignores-other-suffixes", {"d/a.conf": a, "d/b.conf.bak": b, "d/c.ini": c},
             ("--config-dir", "d")),
        Case("dir-hidden-file", {"d/a.conf": a, "d/.z.conf": b}, ("--config-dir", "d")),
        Case("dir-empty", {"d/readme": "x", "f.conf": a},
             ("--config-file", "f.conf", "--config-dir", "d")),
        Case("dir-only-empty", {"d/readme": "x"}, ("--config-dir", "d")),
        Case("dir-missing", {"f.conf": a}, ("--config-file", "f.conf", "--config-dir", "nope")),
        Case("file-missing", {"f.conf": a}, ("--config-file", "f.conf", "--config-file", "no")),
        Case("file-is-dir", {"d/a.conf": a}, ("--config-file", "d")),
        Case("dir-is-file", {"f.conf": a}, ("--config-dir", "f.conf")),
        Case("dir-subdir-not-read", {"d/sub/a.conf": a, "d/b.conf": b}, ("--config-dir", "d")),
        Case("later-file-without-connection", {"a.conf": a, "b.conf": "[DEFAULT]\ndebug = 1\n"},
             ("--config-file", "a.conf", "--config-file", "b.conf")),
        Case("default-home-dot-first", {"home/.mistral/mistral.conf": a, "home/mistral.conf": b}),
        Case("default-home", {"home/mistral.conf": b}),
        Case("default-prog-overrides", {"home/mistral.conf": a,
                                        "home/.mistral/mistral-db-manage.conf": b}),
        Case("default-conf-d-overrides-files", {"home/mistral.conf": a,
                                                "home/mistral.conf.d/z.conf": b}),
        Case("default-prog-conf-d", {"home/mistral.conf": a,
                                     "home/mistral-db-manage.conf.d/z.conf": b}),
        Case("default-files-skipped-with-file", {"home/mistral.conf": a, "f.conf": c},
             ("--config-file", "f.conf")),
        Case("default-conf-d-kept-with-file", {"home/mistral.conf.d/z.conf": a, "f.conf": c},
             ("--config-file", "f.conf")),
        Case("default-conf-d-skipped-with-dir", {"home/mistral.conf.d/z.conf": a, "d/x.conf": b},
             ("--config-dir", "d")),
        Case("default-file-kept-with-dir", {"home/mistral.conf": a, "d/x.txt": b},
             ("--config-dir", "d")),
        Case("nothing-at-all", {}),
        Case("env-only", {}, env={"OS_DATABASE__CONNECTION": "sqlite:///env"}),
        Case("env-over-file", {"f.conf": a}, ("--config-file", "f.conf"),
             env={"OS_DATABASE__CONNECTION": "sqlite:///env"}),
        Case("env-empty", {"f.conf": a}, ("--config-file", "f.conf"),
             env={"OS_DATABASE__CONNECTION": ""}),
        Case("env-removed-name-ignored", {"f.conf": a}, ("--config-file", "f.conf"),
             env={"OS_DEFAULT__SQL_CONNECTION": "sqlite:///env"}),
        Case("env-lowercase-ignored", {"f.conf": a}, ("--config-file", "f.conf"),
             env={"os_database__connection": "sqlite:///env"}),
        Case("env-over-only-removed", {"f.conf": f"[sql]\nconnection = {OTHER}\n"},
             ("--config-file", "f.conf"), env={"OS_DATABASE__CONNECTION": "sqlite:///env"}),
        Case("env-with-dollar", {"f.conf": a}, ("--config-file", "f.conf"),
             env={"OS_DATABASE__CONNECTION": "mysql://u:pa$$w@h/m"}),
        Case("tilde-path", {"home/t.conf": a}, ("--config-file", "~/t.conf")),
        Case("substitution-across-files", {"a.conf": "[DEFAULT]\nmax_pool_size = 4\n",
                                           "b.conf": "[database]\nconnection = sqlite:///x$max_pool_size\n"},
             ("--config-file", "a.conf", "--config-file", "b.conf")),
        Case("removed-in-dir-only", {"f.conf": "[DEFAULT]\ndebug = 1\n",
                                     "d/a.conf": f"[DEFAULT]\nsql_connection = {OTHER}\n"},
             ("--config-file", "f.conf", "--config-dir", "d")),
        Case("after-command-dir", two_dirs, ("--config-file", "f.conf"),
             after=("--config-dir", "d1")),
        Case("after-command-only", {"f.conf": a}, (), after=("--config-file", "f.conf")),
        Case("log-options-before", {"f.conf": a},
             ("--config-file", "f.conf", "--debug", "--log-file", "/dev/null", "--use-syslog")),
    ]
    return cases


def all_cases() -> list[Case]:
    cases = tool_cases() + ini_cases() + order_cases()
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases
