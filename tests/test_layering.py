"""How the package loads (issue 21): the top-level package is lazy, so its light modules stay light."""

import subprocess
import sys


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_package_and_its_errors_import_without_torch():
    assert "torch" not in loaded_after("import latentspace, latentspace.errors")


def test_the_package_names_still_resolve_on_first_use():
    import latentspace

    assert latentspace.load == latentspace.LatentModel.load
    assert latentspace.LatentspaceError.__module__ == "latentspace.errors"
    assert set(latentspace.__all__) <= set(dir(latentspace))
