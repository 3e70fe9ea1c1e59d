import json, subprocess, sys, time
request = json.load(sys.stdin)
child = subprocess.Popen(["sleep", "300"])
with open(request["parameters"]["pidFile"], "w") as f:
    f.write(str(child.pid))
print(json.dumps({"type": "progress", "progress": 0.1, "message": "warming up"}), flush=True)
time.sleep(300)
