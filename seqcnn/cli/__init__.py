"""The ``seqcnn`` command line: a thin click shell over the library.

Each verb parses options, calls one library function and prints a short summary.
Bad input surfaces as ``SeqcnnError``: printed on one line, exit status 2.

This module holds the ``main`` group and the helpers every verb shares; the verbs live by concern in
``_data`` (encode, info, simulate), ``_training`` (models, train, tune, evaluate, predict, export), ``_variants``
(variants) and ``_interpret`` (attribute, mutagenesis, motifs, discover, report), imported at the end to register
them.
"""

import os
import shlex
import signal
import sys
import threading

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


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler's or ``kill``'s stop), raised where Ctrl-C raises ``KeyboardInterrupt``.

    A subclass, so the clean-up every verb already does for Ctrl-C runs for SIGTERM too (temporary outputs
    removed, a training run's checkpoint kept); the CLI then exits 143 (128 + 15, what a shell reports for a
    process ended by SIGTERM) instead of dying without a word and leaving its temporary files behind.
    """


def _raise_terminated(signum, frame):
    # A scheduler may repeat SIGTERM before its SIGKILL: the first one's clean-up (temporary outputs removed, a
    # publish finished) must run to its end, so further ones are ignored from here on.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def _catch_sigterm():
    """Turn SIGTERM into :class:`Terminated` while a verb runs; returns the handler to restore (None: untouched).

    Only from the main thread (the only one Python lets set a handler, e.g. not under a threaded test runner)
    and only over the default action: a handler an embedding program installed, or SIGTERM ignored by the
    parent (``nohup``-like), stays as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


class _Group(click.Group):
    """A click group that turns ``SeqcnnError`` and usage mistakes into one line on stderr and exit code 2,
    Ctrl-C into exit 130 and SIGTERM into exit 143, each with one line."""

    def main(self, args=None, *a, **kw):
        _ARGV[:] = list(sys.argv[1:] if args is None else args)
        return super().main(args, *a, **kw)

    def invoke(self, ctx):
        previous = _catch_sigterm()
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
        except Terminated:
            click.echo("seqcnn: stopped by SIGTERM; no output was written", err=True)
            ctx.exit(143)
        except KeyboardInterrupt:
            click.echo("seqcnn: interrupted; no output was written", err=True)
            ctx.exit(130)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


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


def _jaspar_target_options(fn):
    """The motifs a verb names sites or patterns by (motifs, discover, variants): JASPAR group, release, collection."""
    for option in reversed([
        click.option("--jaspar", metavar="GROUP",
                     help="JASPAR taxonomic group to compare with (vertebrates, fungi, plants, insects, ..., all), "
                          "or 'none'. [default: the run's, recorded by 'seqcnn train --jaspar'; vertebrates for a "
                          "run that recorded none]"),
        click.option("--jaspar-release", default="JASPAR2024", show_default=True, help="JASPAR2014 ... JASPAR2026."),
        click.option("--jaspar-collection", default="CORE", show_default=True, help="JASPAR collection."),
        click.option("--motif-db", type=click.Path(dir_okay=False),
                     help="Compare with this MEME file instead of JASPAR."),
    ]):
        fn = option(fn)
    return fn


# The verbs register themselves on `main` when imported.
from . import _data, _interpret, _scan, _training, _variants  # noqa: E402,F401
