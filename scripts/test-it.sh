#!/usr/bin/env bash
# The README's test-it command: installs everything the tests need, then runs the whole suite.
# Ends with a plain `N passed, M failed` line counted from vitest's JSON report.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: Debian's PyTorch (reference numerics, brings NumPy) and ONNX (its checker, for
# tfm export) for /usr/bin/python3;
# Chromium (headless browser tests, and the SwiftShader Vulkan driver it ships, on which Dawn runs
# WebGPU without a GPU) and the Vulkan loader.
need=()
/usr/bin/python3 -c "import torch, numpy" 2>/dev/null || need+=(python3-torch)
/usr/bin/python3 -c "import onnx" 2>/dev/null || need+=(python3-onnx)
[ -x /usr/bin/chromium ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ] || need+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || need+=(libvulkan1)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# npm packages, then TypeScript compiled to dist/, which bin/tfm.js runs.
export ONNXRUNTIME_NODE_INSTALL=skip
# `npm install` rather than `npm ci`: npm 11 leaves other platforms' optional packages out of the
# lockfile, which `npm ci` then rejects; `npm install` installs the locked versions all the same.
npm install --no-audit --no-fund
npm run build

# WebGPU in software: Dawn (the `webgpu` package) on SwiftShader. Under CI=true a missing adapter
# fails the WebGPU tests instead of skipping them.
export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json

# vitest runs test files in parallel on every core: sessions default to one GEMM thread there, so
# files do not oversubscribe the cores (the threads tests set their counts themselves).
export TFM_THREADS="${TFM_THREADS:-1}"

mkdir -p .tmp
status=0
# The tests, scripts and benchmarks are type-checked too (tsconfig.test.json, no output).
npx tsc -p tsconfig.test.json || status=$?
npx vitest run --reporter=default --reporter=json --outputFile=.tmp/vitest.json || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(".tmp/vitest.json", "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' || { echo "0 passed, 1 failed"; status=1; }
exit $status
