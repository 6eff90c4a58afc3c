"""install_cog_alias() and the SDK it exposes, each check in a fresh interpreter so sys.modules stays clean."""

import pathlib
import subprocess
import sys
import textwrap

REPO = pathlib.Path(__file__).resolve().parents[2]


def run_python(code: str, extra_path: pathlib.Path | None = None) -> subprocess.CompletedProcess[str]:
    path = [str(REPO)] + ([str(extra_path)] if extra_path else [])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={"PYTHONPATH": ":".join(path), "PATH": "/usr/bin:/bin"},
    )


def test_alias_gives_the_same_objects() -> None:
    result = run_python(
        """
        from runtime.cog_alias import install_cog_alias
        assert install_cog_alias() is True
        assert install_cog_alias() is False  # already there: nothing to do
        from cog import BasePredictor, Input, Path, File, Secret, ConcatenateIterator, BaseModel
        from cog import AsyncConcatenateIterator, CancelationException
        from cog.types import Path as TypesPath
        from cog.predictor import BasePredictor as PredictorBase
        import cog, cog.types, runtime, runtime.types
        assert Path is TypesPath is runtime.Path is runtime.types.Path
        assert BasePredictor is PredictorBase is runtime.BasePredictor
        assert (Input, File, Secret, BaseModel) == (runtime.Input, runtime.File, runtime.Secret, runtime.BaseModel)
        assert cog.types is runtime.types
        print("ok")
        """
    )
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "ok", "")


def test_a_real_cog_package_wins(tmp_path: pathlib.Path) -> None:
    (tmp_path / "cog").mkdir()
    (tmp_path / "cog" / "__init__.py").write_text("REAL = True\n")
    result = run_python(
        """
        from runtime.cog_alias import install_cog_alias
        assert install_cog_alias() is False
        import cog
        assert cog.REAL
        print("ok")
        """,
        extra_path=tmp_path,
    )
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "ok", "")


def test_importing_runtime_is_cheap() -> None:
    # The server's own modules live in the package too: importing it must not load the SDK,
    # and using the SDK must load nothing of the server.
    result = run_python(
        """
        import sys
        import runtime
        def loaded():
            heavy = sorted(name for name in sys.modules if name.split(".")[0] in {"aiohttp", "zmq", "msgspec", "pydantic", "numpy"})
            return heavy, sorted(name for name in sys.modules if name.startswith("runtime."))
        print(loaded())
        runtime.BasePredictor, runtime.Path
        print(loaded())
        """
    )
    assert result.returncode == 0, result.stderr
    sdk = "['runtime.predictor', 'runtime.scope', 'runtime.types', 'runtime.url_files']"
    assert result.stdout.splitlines() == ["([], [])", f"([], {sdk})"]


def test_runtime_exports_only_the_sdk() -> None:
    import runtime

    # Today's Cog exports at its top level (python/cog/__init__.py of 0.23), but for the
    # version, which only the `cog` alias carries (test_the_alias_has_todays_top_level_names).
    assert sorted(runtime.__all__) == [
        "AsyncConcatenateIterator",
        "BaseModel",
        "BasePredictor",
        "BaseRunner",
        "CancelationException",
        "ConcatenateIterator",
        "ExperimentalFeatureWarning",
        "FieldInfo",
        "File",
        "Input",
        "Opaque",
        "Path",
        "Secret",
        "URLFile",
        "URLPath",
        "concurrent",
        "current_scope",
        "emit_metric",
        "streaming",
    ]
