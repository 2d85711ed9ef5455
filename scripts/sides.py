"""What every side-by-side script shares: timing that alternates the sides (so a machine
that slows down or speeds up during the run affects both alike) and agreement checks that
stop the run, loudly, when the two sides did not compute the same thing."""
import statistics
import subprocess
import sys
import time


class Disagreement(SystemExit):
    pass


def agree(what, difference, tolerance):
    """Prints the check and stops the script when `difference` exceeds `tolerance`."""
    ok = difference <= tolerance
    line = f"agreement {what}: {difference:.2e} (tolerance {tolerance:.0e}) {'ok' if ok else 'FAILED'}"
    print(line, flush=True)
    if not ok:
        raise Disagreement(f"{what}: the two sides differ by {difference:.3e} > {tolerance:.0e}")
    return difference


def alternate(sides, rounds=5):
    """Runs each side once per round, in turn, `rounds` times. `sides` maps a name to a
    callable returning a list of seconds (one or several timings per call). Returns
    {name: (min, median)} over all timings."""
    times = {name: [] for name in sides}
    for _ in range(rounds):
        for name, side in sides.items():
            times[name].extend(side())
    return {name: (min(t), statistics.median(t)) for name, t in times.items()}


def timed(function, repeats=1):
    """A side that times `repeats` calls of `function` in-process."""
    def side():
        out = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            out.append(time.perf_counter() - start)
        return out
    return side


def cargo_example(name, *args):
    """Builds and runs a medida example (release), returning its standard output."""
    run = subprocess.run(
        ["cargo", "run", "--release", "--quiet", "--example", name, "--", *map(str, args)],
        capture_output=True, text=True,
    )
    if run.returncode != 0:
        sys.exit(f"cargo run --example {name} failed:\n{run.stderr}")
    return run.stdout


def ms(pair):
    return f"{1e3 * pair[0]:.2f} / {1e3 * pair[1]:.2f}"
