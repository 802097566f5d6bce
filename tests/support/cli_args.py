"""The arguments every end-to-end CLI test takes from CTest: the omniseg binary, the mpiexec
command line (launcher and options, without -n) and the rank counts to run at."""
import argparse


def parse_cli_test_args(description=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--omniseg", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 3, 4])
    return parser.parse_args()
