"""Build and launch locallambda's own Java runtime client for the java17 / java21 runtimes.

The Java sources under ``runtimes/java/src`` hold

* API-compatible copies of the aws-lambda-java-core interfaces that user code compiles against
  (``com.amazonaws.services.lambda.runtime.Context``, ``RequestHandler``, ``RequestStreamHandler``,
  ``LambdaLogger``, ``ClientContext``, ``Client``, ``CognitoIdentity``, ``LambdaRuntime``,
  ``logging.LogLevel``/``LogFormat``), and
* the runtime client ``locallambda.runtime.Bootstrap``, which speaks the Lambda Runtime API
  (``AWS_LAMBDA_RUNTIME_API``), loads ``_HANDLER`` and converts events and results with a small JSON
  codec of its own; it needs nothing but a JDK 17+.

:func:`ensure_java_bootstrap` compiles them once into a jar in a cache directory, keyed by a hash of
the sources, and (best effort) records a class-data-sharing archive of the runtime next to it, which
cuts the JVM start. :func:`java_command` builds the argv that starts the runtime.

Launch contract (what an executor must provide):

* argv: ``java_command(jar, task_root, extra)``; the working directory should be the task root
  (``/var/task`` on AWS); the handler may also be given as an extra last argument, which wins over
  ``_HANDLER``.
* environment: ``AWS_LAMBDA_RUNTIME_API`` (bare ``host:port``), ``_HANDLER``
  (``package.Class`` or ``package.Class::method``), ``LAMBDA_TASK_ROOT``,
  ``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_LAMBDA_FUNCTION_VERSION``,
  ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, ``AWS_LAMBDA_LOG_GROUP_NAME``,
  ``AWS_LAMBDA_LOG_STREAM_NAME``.
* output: function logs (``System.out``, ``LambdaLogger``) on stdout, flushed before each result
  is posted; ``System.err`` on stderr.
* exit: status 1 after posting ``/runtime/init/error``, after losing the Runtime API, or after a
  fatal error (``OutOfMemoryError``...) in the handler; status 2 when ``AWS_LAMBDA_RUNTIME_API`` is
  missing or malformed.

Class path: one flat class path, in this order: the bootstrap jar, the task root, the task root's
``lib/*.jar`` (name order, like AWS), then ``extra_classpath`` (e.g. each layer's ``java/lib``
directory, which stands for its jars). The bootstrap jar comes first, so its API classes win over a copy of aws-lambda-java-core
bundled in the function and are the same ``Class`` objects for the runtime and the user code --
the same outcome as on AWS, where the runtime's class loader is the parent of the function's.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

__all__ = [
    "JVM_FLAGS",
    "MAIN_CLASS",
    "SOURCE_DIR",
    "JavaBootstrapError",
    "JavacNotFoundError",
    "cds_archive_path",
    "ensure_java_bootstrap",
    "java_command",
    "sources_digest",
]

#: The directory holding the Java sources of the API classes and of the runtime client.
SOURCE_DIR: Path = Path(__file__).resolve().parent / "java" / "src"

#: The main class of the runtime client.
MAIN_CLASS = "locallambda.runtime.Bootstrap"

#: The class run once to record the class-data-sharing archive.
TRAINING_CLASS = "locallambda.runtime.Training"

#: JVM flags for a fast start. Measured on JDK 17, 2 CPUs (spawn -> first ``GET /next``, median):
#: no flags ~54 ms; C1 only (``TieredStopAtLevel=1``, which AWS's Java 17+ runtimes also use by
#: default) about the same to the first ``/next`` but ~5 ms faster to the first response; plus the
#: AppCDS archive of the runtime (added by :func:`java_command`) ~39 ms, and ~52 ms to the first
#: response instead of ~79 ms. ``-XX:+UseSerialGC`` and ``-XX:-UsePerfData`` did not help and are
#: left out. (A JVM printing "hi" takes ~30 ms here.)
JVM_FLAGS: tuple[str, ...] = (
    "-XX:+TieredCompilation",
    "-XX:TieredStopAtLevel=1",
    "-Xshare:auto",
    "-Dfile.encoding=UTF-8",
)

# A stale or foreign archive is ignored by the JVM; these keep it from saying so on stdout
# (which is the function's log).
_CDS_QUIET: tuple[str, ...] = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")

_JAVAC_RELEASE = "17"
_JAR_PREFIX = "locallambda-java-bootstrap-"


class JavaBootstrapError(RuntimeError):
    """The Java runtime client could not be built (javac failed, or the sources are missing)."""


class JavacNotFoundError(JavaBootstrapError):
    """No ``javac`` (JDK 17 or later) was found on PATH or under ``JAVA_HOME``."""


# --------------------------------------------------------------------------- helpers


def _source_files() -> list[Path]:
    return sorted(p for p in SOURCE_DIR.rglob("*.java") if p.is_file())


def sources_digest() -> str:
    """SHA-256 (hex) over the relative paths and contents of the Java sources and the javac release.

    Raises:
        JavaBootstrapError: if there are no sources.
    """
    files = _source_files()
    if not files:
        raise JavaBootstrapError(f"no Java sources under {SOURCE_DIR}")
    h = hashlib.sha256()
    h.update(f"release={_JAVAC_RELEASE};main={MAIN_CLASS};flags=stringConcat-inline\n".encode())
    for p in files:
        rel = p.relative_to(SOURCE_DIR).as_posix()
        data = p.read_bytes()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def _find_tool(name: str, java_home: Path | None) -> str | None:
    if java_home:
        cand = Path(java_home) / "bin" / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    return shutil.which(name)


def _java_key(java: str) -> str | None:
    """A short key naming the JVM that a CDS archive was made with (None if ``java`` is not found)."""
    path = shutil.which(java) if os.sep not in java else java
    if not path:
        return None
    real = Path(os.path.realpath(path))
    h = hashlib.sha256(str(real).encode())
    # the JVM library changes with every JDK update, even when the launcher does not
    home = real.parent.parent
    for lib in (home / "lib" / "server" / "libjvm.so", home / "lib" / "server" / "libjvm.dylib", real):
        try:
            st = lib.stat()
        except OSError:
            continue
        h.update(f"{lib}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        break
    return h.hexdigest()[:12]


def cds_archive_path(bootstrap: Path, java: str = "java") -> Path | None:
    """Where the class-data-sharing archive of ``bootstrap`` for the JVM ``java`` lives.

    Returns None if ``java`` cannot be found. The file may not exist.
    """
    key = _java_key(java)
    if key is None:
        return None
    return bootstrap.with_name(f"{bootstrap.stem}.{key}.jsa")


def _jar_dir_entries(d: Path) -> list[str]:
    """Class path entries for the jars of directory ``d``: each jar in name order when ``d`` is
    visible from here (AWS's order), else the wildcard ``d/*`` (e.g. a path inside a container)."""
    try:
        names = sorted(p.name for p in d.iterdir() if p.name.endswith(".jar") and len(p.name) > 4)
    except FileNotFoundError:
        # no such directory here: either it does not exist (nothing to add), or the path is
        # meant for another file system (a container) when even its parent is not visible
        return [] if d.parent.is_dir() else [str(d / "*")]
    except OSError:  # not a directory, or unreadable
        return []
    return [str(d / n) for n in names]


def _extra_entries(p: Path) -> list[str]:
    """Class path entries for one ``extra_classpath`` item (see :func:`java_command`)."""
    s = str(p)
    if s.endswith("*") or p.suffix in (".jar", ".zip") or p.is_file():
        return [s]
    if p.is_dir():
        # a layer's java/lib: its jars; the directory itself too, for loose classes
        return [s, *_jar_dir_entries(p)]
    return [s, str(p / "*")]


def _write_jar(classes: Path, jar: Path) -> None:
    """Writes a deterministic jar (a zip with a manifest) of the class files under ``classes``."""
    manifest = (f"Manifest-Version: 1.0\r\nMain-Class: {MAIN_CLASS}\r\nCreated-By: locallambda\r\n\r\n").encode()
    fixed = (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(jar, "w", compression=zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("META-INF/", fixed)
        info.external_attr = 0o40755 << 16
        z.writestr(info, b"")
        info = zipfile.ZipInfo("META-INF/MANIFEST.MF", fixed)
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, manifest)
        dirs: set[str] = set()
        for f in sorted(p for p in classes.rglob("*") if p.is_file()):
            rel = f.relative_to(classes).as_posix()
            parts = rel.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i]) + "/"
                if d not in dirs:
                    dirs.add(d)
                    di = zipfile.ZipInfo(d, fixed)
                    di.external_attr = 0o40755 << 16
                    z.writestr(di, b"")
            fi = zipfile.ZipInfo(rel, fixed)
            fi.compress_type = zipfile.ZIP_DEFLATED
            fi.external_attr = 0o100644 << 16
            z.writestr(fi, f.read_bytes())


def _compile(javac: str, workdir: Path) -> Path:
    """Compiles the sources into ``workdir/classes``; returns that directory.

    Raises:
        JavaBootstrapError: if javac fails or cannot be run.
    """
    classes = workdir / "classes"
    classes.mkdir()
    argfile = workdir / "sources.txt"
    # quote each path for javac's @argfile syntax
    argfile.write_text(
        "\n".join('"' + str(p).replace("\\", "\\\\").replace('"', '\\"') + '"' for p in _source_files()) + "\n"
    )
    # -XDstringConcat=inline: string concatenation as StringBuilder calls, not invokedynamic,
    # whose first use spins method handles and costs the JVM start several milliseconds
    cmd = [
        javac,
        "--release",
        _JAVAC_RELEASE,
        "-encoding",
        "UTF-8",
        "-nowarn",
        "-g",
        "-XDstringConcat=inline",
        "-d",
        str(classes),
        f"@{argfile}",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise JavaBootstrapError(f"could not run {javac}: {e}") from e
    if proc.returncode != 0:
        raise JavaBootstrapError(
            f"javac failed (exit {proc.returncode}) compiling the locallambda Java runtime:\n{proc.stdout}{proc.stderr}"
        )
    return classes


def _publish(staged: Path, target: Path) -> None:
    """Moves ``staged`` to ``target`` atomically, keeping ``target`` if another builder made it first.

    A hard link publishes without ever replacing an existing file, so the jar's mtime -- which a CDS
    archive made from it records -- never changes under a reader. Where hard links are not
    supported, an atomic rename is used instead.
    """
    try:
        os.link(staged, target)
    except FileExistsError:
        pass
    except OSError:
        if not target.is_file():
            os.replace(staged, target)


def _train_cds(jar: Path, java: str, timeout: float = 60.0) -> Path | None:
    """Records the class-data-sharing archive of ``jar`` for ``java``; returns it, or None on failure.

    The archive only speeds up the start; every failure here is silent.
    """
    target = cds_archive_path(jar, java)
    if target is None:
        return None
    if target.is_file():
        return target
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    cmd = [java, *JVM_FLAGS, f"-XX:ArchiveClassesAtExit={tmp}", *_CDS_QUIET, "-cp", str(jar), TRAINING_CLASS]
    try:
        proc = subprocess.run(  # noqa: PLW1510 - the status is read below
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            cwd=str(jar.parent),
        )
        if proc.returncode == 0 and tmp.is_file() and tmp.stat().st_size > 0:
            os.replace(tmp, target)
            return target
    except (OSError, subprocess.TimeoutExpired):
        pass
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass
    return None


# --------------------------------------------------------------------------- public API


def ensure_java_bootstrap(
    cache_dir: Path, *, cds: bool = True, java: str = "java", java_home: Path | None = None
) -> Path:
    """Returns the jar of locallambda's Java runtime client, compiling it into ``cache_dir`` if needed.

    The jar is named after a hash of the Java sources, so it is built once and reused until the
    sources change. It is compiled in a private temporary directory inside ``cache_dir`` and
    published atomically without replacing an existing jar (a hard link, else a rename), so
    concurrent callers (threads or processes) never see a partial jar; at worst both compile and
    the first to publish wins.

    With ``cds`` (the default), a class-data-sharing archive of the runtime for the JVM ``java`` is
    also recorded next to the jar (see :func:`cds_archive_path`), by running the runtime once
    against a scripted in-process Runtime API; failing to make it is not an error.

    Raises:
        JavacNotFoundError: if the jar must be built and no ``javac`` is found (on PATH or in
            ``java_home/bin``, the server's ``JAVA_HOME``).
        JavaBootstrapError: if the sources are missing or javac fails (its output is in the message).
        OSError: if ``cache_dir`` cannot be created or written.
    """
    cache_dir = Path(os.path.abspath(cache_dir))
    digest = sources_digest()[:16]
    jar = cache_dir / f"{_JAR_PREFIX}{digest}.jar"
    if not jar.is_file():
        javac = _find_tool("javac", java_home)
        if javac is None:
            raise JavacNotFoundError(
                "javac was not found on PATH or in $JAVA_HOME/bin: the java17/java21 runtimes need a "
                "JDK 17 or later (for example the Debian package openjdk-17-jdk-headless)"
            )
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".build-", dir=cache_dir) as tmp:
            work = Path(tmp)
            classes = _compile(javac, work)
            staged = work / jar.name
            _write_jar(classes, staged)
            _publish(staged, jar)
    if cds:
        _train_cds(jar, java)
    return jar


def java_command(
    bootstrap: Path,
    task_root: Path,
    extra_classpath: list[Path],
    *,
    java: str = "java",
    handler: str | None = None,
    cds: bool = True,
    jvm_flags: list[str] | None = None,
    java_tool_options: str | None = None,
) -> list[str]:
    """Returns the argv that starts the Java runtime client for a function.

    ``bootstrap`` is the jar from :func:`ensure_java_bootstrap`; ``task_root`` the function's code
    directory (classes and resources at its top, dependency jars in ``lib/``); ``extra_classpath``
    further entries, typically each layer's ``java/lib`` (``/opt/java/lib`` on AWS). An extra entry
    that is a directory stands for the directory and its jars; one ending in ``*``, or naming a
    ``.jar``/``.zip`` or an existing file, is passed as is; a path that does not exist here (e.g. in
    a container) is passed as the directory plus its wildcard ``dir/*``. The jars of
    ``task_root/lib`` and of extra directories are listed one by one in name order when visible
    from here (the order AWS uses), else given as the wildcard ``dir/*``.

    ``handler``, when given, is appended as the first program argument (it wins over ``_HANDLER``).
    With ``cds``, the class-data-sharing archive of ``bootstrap`` for ``java`` is used if it exists
    (pass ``cds=False`` when the command runs on another machine or in a container with another
    JDK; a foreign archive would only be ignored, though). ``jvm_flags`` replaces
    :data:`JVM_FLAGS` (for instance to drop C1-only compilation for long-running work).

    ``java_tool_options`` is the function's ``JAVA_TOOL_OPTIONS`` environment variable, if any. The
    JVM reads it *before* the command line, so a default flag given here would silently win over
    the function's setting; the defaults that it sets itself (tiered compilation, class data
    sharing, ``file.encoding``) are therefore left out, as on AWS, where these defaults can be
    overridden through ``JAVA_TOOL_OPTIONS``.

    The class path separator is the host's (``os.pathsep``).

    Raises:
        Nothing; paths are not required to exist.
    """
    bootstrap = Path(os.path.abspath(bootstrap))
    task_root = Path(os.path.abspath(task_root))
    cp: list[str] = [str(bootstrap), str(task_root)]
    cp.extend(_jar_dir_entries(task_root / "lib"))
    for entry in extra_classpath:
        cp.extend(_extra_entries(Path(entry)))

    flags = list(JVM_FLAGS if jvm_flags is None else jvm_flags)
    user = java_tool_options or ""
    if user:
        overridden = [
            ("Tiered", "Tiered"),
            ("-Xshare", "Xshare"),
            ("SharedArchiveFile", "Xshare"),
            ("file.encoding", "file.encoding"),
        ]
        for marker, flag_part in overridden:
            if marker in user:
                flags = [f for f in flags if flag_part not in f]
        if "Xshare" in user or "SharedArchiveFile" in user:
            cds = False
    if cds:
        archive = cds_archive_path(bootstrap, java)
        if archive is not None and archive.is_file():
            flags += [f"-XX:SharedArchiveFile={archive}", *_CDS_QUIET]
    argv = [java, *flags, "-cp", os.pathsep.join(cp), MAIN_CLASS]
    if handler:
        argv.append(handler)
    return argv


if __name__ == "__main__":  # pragma: no cover - manual helper
    out = ensure_java_bootstrap(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
    print(out)
    print(cds_archive_path(out))
