"""nbgrader settings for every server of a class JupyterHub (students' and instructors').

Install it where every single-user server reads it, e.g. ``/etc/jupyter/nbgrader_config.py``
(``make classroom`` puts it on the servers' ``JUPYTER_CONFIG_PATH``). It names the course
and the exchange, and tightens nbgrader's file exchange, whose privacy otherwise rests on
unguessable folder names:

- ``PrivateSubmit``: a submission in the exchange's ``inbound/`` is readable by the
  instructor's group only (files 0640, folders 2770; ``inbound/`` is setgid, so its
  group, the instructor's own, passes to every submission), not by every account that
  learns its name (nbgrader makes them 0644, and the submission's top folder 0777).
- ``OwnerCheckedCollect``: ``nbgrader collect`` takes a submission only if its folder
  and everything in it belong to the student it names, and are plain files and folders.
  nbgrader's own collect only warns when the owner differs (another student could hand
  in work under your name) and follows symbolic links as the instructor (a "submission"
  that links to ``source/`` would come back with the solutions in its feedback). The copy
  opens each entry without following links and checks the opened file, so swapping an
  entry for a link while it is collected does not help either.

Environment (with defaults for a real hub): ``COURSE_ID`` (``batch-norm-course``),
``COURSE_EXCHANGE`` (``/srv/nbgrader/exchange``). The grading sandbox (a kernel as another
account, see ``sandbox_kernel.py``) is set in the instructor's own config, not here.
"""

import errno
import os
import pwd
import shutil
import stat

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import ignore_patterns

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "batch-norm-course")
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", "/srv/nbgrader/exchange")

SUBMISSION_FILE_MODE = 0o640
SUBMISSION_DIR_MODE = 0o2770


class PrivateSubmit(ExchangeSubmit):
    """nbgrader's submit, then the submission made private to the instructor's group."""

    def do_copy(self, src, dest, log=None):
        if not os.path.abspath(dest).startswith(os.path.abspath(self.inbound_path) + os.sep):
            return super().do_copy(src, dest, log)  # the student's own cache
        # As nbgrader's copy, but folders keep the setgid bit they get from inbound/
        # (copytree would copy the source's mode over it): files written into them later
        # (timestamp.txt, submission_secret.txt) get the instructor's group too.
        if self.get_size(src) > 1000 * self.coursedir.max_dir_size:
            raise RuntimeError("Directory size is too big")
        ignore = ignore_patterns(
            exclude=self.coursedir.ignore,
            include=self.coursedir.include,
            max_file_size=self.coursedir.max_file_size,
            log=self.log,
        )

        def copy_folder(source, target):
            os.mkdir(target)
            names = os.listdir(source)
            skipped = ignore(source, names)
            for name in names:
                if name in skipped:
                    continue
                path = os.path.join(source, name)
                if os.path.isdir(path):
                    copy_folder(path, os.path.join(target, name))
                else:
                    shutil.copyfile(path, os.path.join(target, name))

        copy_folder(src, dest)

    def copy_files(self):
        super().copy_files()
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        for folder, _, files in os.walk(dest):
            for name in files:
                os.chmod(os.path.join(folder, name), SUBMISSION_FILE_MODE)
            os.chmod(folder, SUBMISSION_DIR_MODE)


class SubmissionRefused(Exception):
    pass


def copy_owned_tree(src, dest, uid):
    """Copy folder ``src`` to ``dest`` (or only check it, with ``dest=None``): every entry
    must be a regular file or folder owned by ``uid``, else ``SubmissionRefused``.

    Each entry is opened with O_NOFOLLOW and checked through its open descriptor."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK

    def check(fd, what):
        info = os.fstat(fd)
        if info.st_uid != uid:
            try:
                owner = pwd.getpwuid(info.st_uid).pw_name
            except KeyError:
                owner = str(info.st_uid)
            raise SubmissionRefused(f"{what} belongs to {owner}")
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            raise SubmissionRefused(f"{what} is not a plain file or folder")
        return info

    def open_entry(name, what, dir_fd=None):
        try:
            return os.open(name, flags, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise SubmissionRefused(f"{what} is a symbolic link") from None
            raise

    def walk(dir_fd, target, where):
        if target is not None:
            os.makedirs(target, exist_ok=True)
        for name in sorted(os.listdir(dir_fd)):
            what = f"{where}/{name}"
            fd = open_entry(name, what, dir_fd)
            try:
                info = check(fd, what)
                out = None if target is None else os.path.join(target, name)
                if stat.S_ISDIR(info.st_mode):
                    walk(fd, out, what)
                elif out is not None:
                    with open(out, "wb") as copy:
                        while chunk := os.read(fd, 1 << 20):
                            copy.write(chunk)
            finally:
                os.close(fd)

    top = open_entry(src, os.path.basename(src))
    try:
        if not stat.S_ISDIR(check(top, os.path.basename(src)).st_mode):
            raise SubmissionRefused(f"{os.path.basename(src)} is not a folder")
        walk(top, dest, os.path.basename(src))
    finally:
        os.close(top)


def ownership_problem(path, username):
    """Why the submission folder ``path`` cannot be ``username``'s, or None."""
    try:
        uid = pwd.getpwnam(username).pw_uid
    except KeyError:
        return f"there is no account {username!r}"
    try:
        copy_owned_tree(path, None, uid)
    except SubmissionRefused as exc:
        return str(exc)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    return None


class OwnerCheckedCollect(ExchangeCollect):
    """nbgrader's collect, taking only submissions that are really the named student's."""

    def _path_to_record(self, path):
        record = super()._path_to_record(path)
        record["problem"] = ownership_problem(path, record["username"])
        if record["problem"]:
            self.log.error(
                "Not collected: %s claims to be by %s, but %s",
                record["filename"],
                record["username"],
                record["problem"],
            )
        return record

    def _sort_by_timestamp(self, records):
        # The newest acceptable submission first; refused ones only if nothing else is left.
        return sorted(records, key=lambda r: (r["problem"] is None, r["timestamp"]), reverse=True)

    def copy_files(self):
        self.src_records = [r for r in self.src_records if not r["problem"]]
        super().copy_files()

    def do_copy(self, src, dest, log=None):
        student = os.path.basename(src).split("+", 1)[0]
        try:
            copy_owned_tree(src, dest, pwd.getpwnam(student).pw_uid)
        except SubmissionRefused as exc:
            self.log.error("Not collected: %s changed while it was copied: %s", src, exc)
            shutil.rmtree(dest, ignore_errors=True)


c.ExchangeFactory.submit = PrivateSubmit
c.ExchangeFactory.collect = OwnerCheckedCollect
