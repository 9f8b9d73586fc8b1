"""JupyterHub configuration of the class hub that ``make classroom`` starts and tests.

A small real deployment on one machine: the hub on 127.0.0.1 behind
configurable-http-proxy, login with the machine's Unix accounts (PAM: the password of
the account, checked by the system, nothing stored by the hub), every user's server a
process running as that user (``LocalProcessSpawner``), from one Python environment
that every account can read, with the course installed.

Read from the environment (``scripts/classroom.py`` sets them; for a hub of your own,
write the values in):

    CLASSROOM_DIR         the run's folder: hub state in hub/, configs in etc/
    CLASSROOM_PYTHON      the Python of the course environment every user can run
    CLASSROOM_PROXY       the configurable-http-proxy command
    CLASSROOM_PORT, CLASSROOM_HUB_PORT, CLASSROOM_PROXY_API_PORT
    CLASSROOM_INSTRUCTORS, CLASSROOM_STUDENTS   comma-separated account names
    CLASSROOM_ENV_*       passed to every server without the prefix (e.g. COURSE_EXCHANGE)
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file
env = os.environ
run = Path(env["CLASSROOM_DIR"])
python = env["CLASSROOM_PYTHON"]
instructors = [u for u in env["CLASSROOM_INSTRUCTORS"].split(",") if u]
students = [u for u in env["CLASSROOM_STUDENTS"].split(",") if u]

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(env["CLASSROOM_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["CLASSROOM_HUB_PORT"])
c.ConfigurableHTTPProxy.command = [env["CLASSROOM_PROXY"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['CLASSROOM_PROXY_API_PORT']}"
c.JupyterHub.db_url = f"sqlite:///{run / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(run / "hub" / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(run / "hub" / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every server
c.JupyterHub.cleanup_proxy = True

# Real logins with the accounts' passwords. PAM needs nothing but the machine (it works
# offline, unlike OAuth); no PAM sessions (JupyterHub's own advice since 2.2).
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False
c.Authenticator.allowed_users = set(instructors + students)
c.Authenticator.admin_users = set()  # nobody administers the hub through it

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [python, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    k.removeprefix("CLASSROOM_ENV_"): v for k, v in env.items() if k.startswith("CLASSROOM_ENV_")
}
c.Spawner.environment["PATH"] = os.pathsep.join([str(Path(python).parent), "/usr/bin", "/bin"])


def role_config(spawner):
    """Instructors and students read different Jupyter config folders: students' servers
    have no formgrader and no "create assignment" tools (they would only see their own
    files anyway: a server runs as its user)."""
    role = "instructor" if spawner.user.name in instructors else "student"
    paths = [str(run / "etc" / role), str(run / "etc" / "common")]
    spawner.environment["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)


c.Spawner.pre_spawn_hook = role_config
