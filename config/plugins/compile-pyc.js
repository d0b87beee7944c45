'use strict';

// Local plugin: after serverless-python-requirements has injected the dependencies, add
// CPython 3.12 bytecode (checked-hash .pyc, see compile_pyc.py) to every function and layer zip, so
// that a cold start on Lambda (read-only /var/task) does not recompile every module.
//
// The .pyc must be made by a Python 3.12 interpreter (the runtime's magic number). It is
// looked for in this order: $LAMBDA_PYTHON, custom.compilePyc.pythonBin, python3.12 on
// PATH, pyenv's versions/3.12.*. Without one the zips ship sources only (slower cold
// starts, same behaviour) and a warning is printed, unless custom.compilePyc.required.

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const SCRIPT = path.join(__dirname, 'compile_pyc.py');

function isPython312(bin) {
  const probe = spawnSync(bin, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
    encoding: 'utf8',
  });
  return probe.status === 0 && probe.stdout.trim() === '3.12';
}

function pyenvCandidates() {
  const root = process.env.PYENV_ROOT || path.join(os.homedir(), '.pyenv');
  const versions = path.join(root, 'versions');
  if (!fs.existsSync(versions)) return [];
  return fs
    .readdirSync(versions)
    .filter((v) => /^3\.12(\.\d+)?$/.test(v))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }))
    .map((v) => path.join(versions, v, 'bin', 'python3.12'));
}

class CompilePyc {
  constructor(serverless, options, { log } = {}) {
    this.serverless = serverless;
    this.options = options || {};
    this.log = log || { notice: console.log, warning: console.warn, info: () => {} };
    this.hooks = {
      'after:package:createDeploymentArtifacts': () => this.compile(),
      'after:deploy:function:packageFunction': () => this.compile([this.options.function]),
    };
  }

  get config() {
    return (this.serverless.service.custom && this.serverless.service.custom.compilePyc) || {};
  }

  findPython() {
    const candidates = [process.env.LAMBDA_PYTHON, this.config.pythonBin, 'python3.12']
      .filter(Boolean)
      .concat(pyenvCandidates());
    return candidates.find(isPython312);
  }

  compile(functionNames) {
    if (this.config.enabled === false) return;
    const service = this.serverless.service;
    const names = functionNames || service.getAllFunctions();
    const servicePath = this.serverless.serviceDir || this.serverless.config.servicePath;
    // The layers too (stage-features' requirement layers), when the whole service is packaged.
    const layers = functionNames ? [] : Object.values(service.layers || {});
    const zips = [
      ...new Set(
        names
          .map((name) => service.getFunction(name))
          .filter((fn) => !fn.image && fn.package && fn.package.artifact)
          .map((fn) => path.resolve(servicePath, fn.package.artifact))
          .concat(
            layers
              .map((layer) => layer.package && layer.package.artifact)
              .filter((artifact) => artifact && fs.existsSync(path.resolve(servicePath, artifact)))
              .map((artifact) => path.resolve(servicePath, artifact))
          )
      ),
    ];
    if (!zips.length) return;

    const python = this.findPython();
    if (!python) {
      const message =
        'compile-pyc: no Python 3.12 interpreter found (set LAMBDA_PYTHON); ' +
        'packaging sources only, every cold start will compile them';
      if (this.config.required) throw new this.serverless.classes.Error(message);
      this.log.warning(message);
      return;
    }
    const result = spawnSync(python, [SCRIPT, ...zips], { encoding: 'utf8' });
    if (result.status !== 0) {
      throw new this.serverless.classes.Error(
        `compile-pyc failed (${python}): ${result.stderr || result.stdout || result.error}`
      );
    }
    this.log.info(result.stdout.trim());
  }
}

module.exports = CompilePyc;
