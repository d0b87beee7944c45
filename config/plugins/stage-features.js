'use strict';

// Local plugin: features that only some stages deploy, switched on in config/<stage>.yml
// (e.g. `payments: 'true'` on dev and prod; off on simple, which then packages as if the
// feature did not exist: no function, route, grant, dependency or secret of it).
//
// - A function with `feature: NAME` is deployed only where NAME is on.
// - A function's `withFeature: {NAME: {environment, iamRoleStatements, requirements}}` is
//   merged into it only where NAME is on. `requirements` names a requirements file installed
//   into that function's zip only (after serverless-python-requirements has added the shared
//   requirements.txt, before compile-pyc compiles it all): a dependency only some functions
//   need (stripe) costs the others nothing. pip uses custom.pythonRequirements' arguments
//   (wheels for the Lambda runtime, never built here).

const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const JSZip = require('jszip');

const INSTALL_DIR = '.requirements';

function filesUnder(dir, prefix = '') {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(prefix, entry.name);
    if (entry.isDirectory()) {
      return entry.name === '__pycache__' ? [] : filesUnder(path.join(dir, entry.name), relative);
    }
    return [relative];
  });
}

class StageFeatures {
  constructor(serverless, options, { log } = {}) {
    this.serverless = serverless;
    this.log = log || { notice: console.log, info: () => {} };
    this.requirementsOf = {}; // function name -> requirements file
    serverless.configSchemaHandler.defineFunctionProperties('aws', {
      properties: {
        feature: { type: 'string' },
        withFeature: { type: 'object' },
      },
    });
    this.hooks = {
      'before:package:initialize': () => this.apply(),
      'after:package:createDeploymentArtifacts': () => this.injectRequirements(),
      // `sls deploy function -f NAME` packages (and configures) that one function.
      'before:deploy:function:initialize': () => this.apply(),
      'after:deploy:function:packageFunction': () => this.injectRequirements([(options || {}).function]),
    };
  }

  get service() {
    return this.serverless.service;
  }

  isOn(feature) {
    const value = ((this.service.custom || {}).stage || {})[feature];
    return value === true || value === 'true';
  }

  apply() {
    const functions = this.service.functions;
    for (const [name, fn] of Object.entries(functions)) {
      if (fn.feature && !this.isOn(fn.feature)) {
        delete functions[name];
        continue;
      }
      for (const [feature, extra] of Object.entries(fn.withFeature || {})) {
        if (!this.isOn(feature)) continue;
        fn.environment = { ...(fn.environment || {}), ...(extra.environment || {}) };
        fn.iamRoleStatements = [...(fn.iamRoleStatements || []), ...(extra.iamRoleStatements || [])];
        if (extra.requirements) this.requirementsOf[name] = extra.requirements;
      }
      delete fn.feature;
      delete fn.withFeature;
    }
  }

  // pip install of `requirements` into a directory named by its content (reused across runs).
  install(requirements) {
    const pip = (this.service.custom || {}).pythonRequirements || {};
    const source = path.join(this.serverless.serviceDir, requirements);
    const digest = crypto
      .createHash('sha256')
      .update(fs.readFileSync(source))
      .update(JSON.stringify(pip.pipCmdExtraArgs || []))
      .digest('hex')
      .slice(0, 16);
    const target = path.join(this.serverless.serviceDir, INSTALL_DIR, digest);
    const done = path.join(target, '.installed');
    if (fs.existsSync(done)) return path.join(target, 'site');
    fs.rmSync(target, { recursive: true, force: true });
    this.log.notice(`Installing ${requirements} for the functions that need it`);
    const args = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', source,
      '--target', path.join(target, 'site'), ...(pip.pipCmdExtraArgs || [])];
    const result = spawnSync(pip.pythonBin || 'python3', args, { stdio: 'inherit' });
    if (result.status !== 0) {
      throw new this.serverless.classes.Error(`pip install -r ${requirements} failed`);
    }
    fs.rmSync(path.join(target, 'site', 'bin'), { recursive: true, force: true });
    fs.writeFileSync(done, '');
    return path.join(target, 'site');
  }

  async injectRequirements(only) {
    for (const [name, requirements] of Object.entries(this.requirementsOf)) {
      if (only && !only.includes(name)) continue;
      const fn = this.service.getFunction(name);
      const artifact = path.resolve(this.serverless.serviceDir, fn.package.artifact);
      const site = this.install(requirements);
      const zip = await JSZip.loadAsync(fs.readFileSync(artifact));
      for (const file of filesUnder(site)) {
        const full = path.join(site, file);
        zip.file(file, fs.readFileSync(full), {
          date: new Date(0), // the same content gives the same zip
          unixPermissions: fs.statSync(full).mode,
        });
      }
      const buffer = await zip.generateAsync({
        type: 'nodebuffer',
        platform: 'UNIX',
        compression: 'DEFLATE',
        compressionOptions: { level: 9 },
      });
      fs.writeFileSync(artifact, buffer);
      this.log.info(`Added ${requirements} to ${name}`);
    }
  }
}

module.exports = StageFeatures;
