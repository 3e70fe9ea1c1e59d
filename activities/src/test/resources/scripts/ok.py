import json, os, sys
request = json.load(sys.stdin)
out = request["outputDir"]
steps = int(request["parameters"].get("steps", 3))
for i in range(1, steps + 1):
    print(json.dumps({"type": "progress", "progress": i / steps, "step": i, "totalSteps": steps}), flush=True)
print("a plain log line the worker logs")
with open(os.path.join(out, "echo.json"), "w") as f:
    json.dump({"parameters": request["parameters"], "inputs": request["inputs"]}, f)
os.makedirs(os.path.join(out, "sub"), exist_ok=True)
with open(os.path.join(out, "sub", "note.txt"), "w") as f:
    f.write("hello")
print(json.dumps({"type": "result", "outputs": ["echo.json", "sub/note.txt"]}), flush=True)
