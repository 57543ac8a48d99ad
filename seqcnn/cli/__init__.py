"""The ``seqcnn`` command line: a thin click shell over the library.

Each verb parses options, calls one library function and prints a short summary.
Bad input surfaces as ``SeqcnnError``: printed on one line, exit status 2.

This module holds the ``main`` group and the helpers every verb shares; the verbs live by concern in
``_data`` (encode, info, simulate), ``_training`` (models, train, tune, evaluate, predict) and ``_interpret``
(variants, attribute, mutagenesis, motifs, discover, report), imported at the end to register them.
"""

import os
import shlex
import sys

import click

from .._version import __version__
from ..errors import SeqcnnError


_ARGV = []


def _progress(quiet):
    """Show progress bars only on a terminal: in logs and pipes their redraws are noise."""
    return not quiet and sys.stderr.isatty()


def _is_chief():
    """Whether this process is the chief of the TF_CONFIG cluster (True when that cannot be read)."""
    from ..distribute import cluster_role

    try:
        return cluster_role(os.environ.get("TF_CONFIG"))["chief"]
    except SeqcnnError:
        return True


def _command_line():
    """The command as the user typed it, recorded in outputs for provenance."""
    return " ".join(shlex.quote(str(a)) for a in ["seqcnn"] + _ARGV)


class _Group(click.Group):
    """A click group that turns ``SeqcnnError`` and usage mistakes into one line on stderr and exit code 2."""

    def main(self, args=None, *a, **kw):
        _ARGV[:] = list(sys.argv[1:] if args is None else args)
        return super().main(args, *a, **kw)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SeqcnnError as exc:
            click.echo(f"seqcnn: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except click.UsageError as exc:
            # Option and argument mistakes get the same one-line form as every other error (click would
            # print a usage block first); the help is one -h away.
            names, c = [], exc.ctx
            while c is not None and c.parent is not None:
                names.insert(0, c.info_name)
                c = c.parent
            where = " ".join(["seqcnn"] + names)
            click.echo(f"seqcnn: error: {exc.format_message()} (see '{where} -h')", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("seqcnn: interrupted; no output was written", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="seqcnn")
def main():
    """seqcnn: CNN classifiers of DNA sequences, with in-silico mutagenesis and motif export."""


def _notes(report):
    """Advice from a library call (``report['notes']``), one ``seqcnn: note:`` line each on stderr, even with -q."""
    for note in report.get("notes", ()):
        click.echo(f"seqcnn: note: {note}", err=True)


def _say(quiet, text):
    if not quiet:
        click.echo(text)


def _parse_params(params):
    out = {}
    for p in params:
        if "=" not in p:
            raise SeqcnnError(f"--param {p!r} is not NAME=VALUE", hint="e.g. --param filters=64")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _fmt(v, ci=None):
    if v is None:
        return "n/a"
    return f"{v:.4f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def _metrics_line(name, m):
    return (f"{name}: n {m['n']}, auROC {_fmt(m['auroc'], m.get('auroc_ci'))}, "
            f"auPRC {_fmt(m['auprc'], m.get('auprc_ci'))}, accuracy {_fmt(m['accuracy'])}, MCC {_fmt(m['mcc'])}")


# The verbs register themselves on `main` when imported.
from . import _data, _interpret, _training  # noqa: E402,F401
