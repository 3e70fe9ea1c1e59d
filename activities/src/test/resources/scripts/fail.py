import sys
sys.stdin.read()
print("Traceback (most recent call last):", file=sys.stderr)
print("ValueError: the model file is corrupt", file=sys.stderr)
sys.exit(3)
