'use strict';

// Local plugin: features that only some stages deploy, switched on in config/<stage>.yml
// (e.g. `payments: 'true'` on dev and prod; off on simple, which then packages as if the
// feature did not exist: no function, route, grant, dependency or secret of it), and the
// dependencies only some functions need.
//
// - A function with `feature: NAME` is deployed only where NAME is on (its setting true, or a
//   text other than '' and 'false').
// - A function's `withFeature: {NAME: {environment, iamRoleStatements, requirements}}` is
//   merged into it only where NAME is on.
// - A function's `requirements` (and its features' `requirements`) names requirements files
//   (one, or a list) installed into that function's zip only, after
//   serverless-python-requirements has added the shared requirements.txt, before compile-pyc
//   compiles it all: a dependency only some functions import (stripe) costs the others
//   nothing.
// - A function's `requirementLayers` (and its features') names layers of
//   custom.requirementLayers (name -> requirements file): a dependency several functions
//   import (requests) is deployed once, as a Lambda layer (python/ in its zip, on the
//   function's path as /opt/python), and left out of their own zips.
// pip uses custom.pythonRequirements' arguments (wheels for the Lambda runtime, never built
// here) and its slimPatterns drop the same unused files.

const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const glob = require('glob-all');
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

// A distribution's metadata whatever its version (requests-2.34.2.dist-info -> requests
// metadata), anything else by its name.
function topLevel(entry) {
  const dist = /^(.+?)-[^-]+\.dist-info$/.exec(entry);
  return dist ? `${dist[1].toLowerCase()} metadata` : entry;
}

function addFile(zip, name, full) {
  zip.file(name, fs.readFileSync(full), {
    date: new Date(0), // the same content gives the same zip
    unixPermissions: fs.statSync(full).mode,
  });
}

function zipBuffer(zip) {
  return zip.generateAsync({
    type: 'nodebuffer',
    platform: 'UNIX',
    compression: 'DEFLATE',
    compressionOptions: { level: 9 },
  });
}

class StageFeatures {
  constructor(serverless, options, { log } = {}) {
    this.serverless = serverless;
    this.log = log || { notice: console.log, info: () => {} };
    this.requirementsOf = {}; // function name -> its own requirements files
    this.layersOf = {}; // function name -> the requirement layers it uses
    serverless.configSchemaHandler.defineFunctionProperties('aws', {
      properties: {
        feature: { type: 'string' },
        withFeature: { type: 'object' },
        requirements: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        requirementLayers: { type: 'array', items: { type: 'string' } },
      },
    });
    this.hooks = {
      'before:package:initialize': () => this.apply(),
      'after:package:createDeploymentArtifacts': async () => {
        await this.buildLayers();
        await this.injectRequirements();
      },
      // After resources.extensions gave some functions a Condition (notify's Notifications).
      'before:aws:package:finalize:saveServiceState': () => this.conditionLayers(),
      // `sls deploy function -f NAME` packages (and configures) that one function.
      'before:deploy:function:initialize': () => this.apply(),
      'after:deploy:function:packageFunction': () => this.injectRequirements([(options || {}).function]),
    };
  }

  get service() {
    return this.serverless.service;
  }

  // A feature is on where its setting is true or 'true', or a text other than '' and 'false':
  // a setting that names something (mailFrom's address) is on where it is set.
  isOn(feature) {
    const value = ((this.service.custom || {}).stage || {})[feature];
    return value === true || (typeof value === 'string' && value !== '' && value !== 'false');
  }

  apply() {
    const functions = this.service.functions;
    for (const [name, fn] of Object.entries(functions)) {
      if (fn.feature && !this.isOn(fn.feature)) {
        delete functions[name];
        continue;
      }
      const requirements = [].concat(fn.requirements || []);
      const layers = [...(fn.requirementLayers || [])];
      for (const [feature, extra] of Object.entries(fn.withFeature || {})) {
        if (!this.isOn(feature)) continue;
        fn.environment = { ...(fn.environment || {}), ...(extra.environment || {}) };
        fn.iamRoleStatements = [...(fn.iamRoleStatements || []), ...(extra.iamRoleStatements || [])];
        requirements.push(...[].concat(extra.requirements || []));
        layers.push(...(extra.requirementLayers || []));
      }
      if (requirements.length) this.requirementsOf[name] = [...new Set(requirements)];
      if (layers.length) this.useLayers(name, fn, [...new Set(layers)]);
      delete fn.feature;
      delete fn.withFeature;
      delete fn.requirements;
      delete fn.requirementLayers;
    }
    this.offlineLayers();
  }

  // The framework compares each layer with the deployed stack's (DescribeStacks) to reuse an
  // unchanged upload: that needs AWS credentials, and `sls package` must work without any.
  // A requirement layer is rebuilt from pinned requirements on every package instead (a
  // deploy then publishes a new layer version, as it updates each function's code).
  offlineLayers() {
    const compiler = this.serverless.pluginManager.plugins.find(
      (plugin) => plugin.constructor.name === 'AwsCompileLayers'
    );
    if (!compiler || compiler.compareWithLastLayer.offline) return;
    const compare = compiler.compareWithLastLayer.bind(compiler);
    const ours = (layer) => Object.prototype.hasOwnProperty.call(this.layerFiles, layer);
    compiler.compareWithLastLayer = async (layer) => (ours(layer) ? undefined : compare(layer));
    compiler.compareWithLastLayer.offline = true;
  }

  get layerFiles() {
    return (this.service.custom || {}).requirementLayers || {};
  }

  // The layer's logical id in the template (requests -> RequestsLambdaLayer).
  layerLogicalId(layer) {
    return this.serverless.getProvider('aws').naming.getLambdaLayerLogicalId(layer);
  }

  // Beside the function zips: the framework builds them all in .serverless/ and moves them to
  // the --package directory at the end.
  layerArtifact(layer) {
    return path.join('.serverless', `${layer}Layer.zip`);
  }

  // Declares the layers a function uses (each once in the service) and points it at them.
  useLayers(name, fn, layers) {
    this.service.layers = this.service.layers || {};
    for (const layer of layers) {
      if (!this.layerFiles[layer]) {
        throw new this.serverless.classes.Error(
          `${name}: no custom.requirementLayers.${layer} (a requirements file)`
        );
      }
      this.service.layers[layer] = this.service.layers[layer] || {
        package: { artifact: this.layerArtifact(layer) }, // built by buildLayers
        name: `${this.service.service}-${this.serverless.getProvider('aws').getStage()}-${layer}`,
        description: `${this.layerFiles[layer]}, for the functions that import it`,
        compatibleRuntimes: [this.service.provider.runtime],
        compatibleArchitectures: [this.service.provider.architecture || 'x86_64'],
      };
    }
    fn.layers = [...(fn.layers || []), ...layers.map((l) => ({ Ref: this.layerLogicalId(l) }))];
    this.layersOf[name] = layers;
  }

  // A layer exists where a function using it does: when all of them have one Condition (e.g.
  // only notify uses it, and notify exists only with Notifications), so has the layer, with
  // its outputs. Else it is unconditional.
  conditionLayers() {
    const template = this.service.provider.compiledCloudFormationTemplate;
    for (const layer of new Set(Object.values(this.layersOf).flat())) {
      const id = this.layerLogicalId(layer);
      const users = Object.values(template.Resources).filter(
        (resource) =>
          resource.Type === 'AWS::Lambda::Function' &&
          (resource.Properties.Layers || []).some((ref) => ref.Ref === id)
      );
      const conditions = new Set(users.map((resource) => resource.Condition));
      const [condition] = conditions;
      if (conditions.size !== 1 || !condition) continue;
      template.Resources[id].Condition = condition;
      for (const [name, output] of Object.entries(template.Outputs || {})) {
        if (name.startsWith(id)) output.Condition = condition;
      }
    }
  }

  // Each layer used on this stage: its requirements under python/, in the layer's zip.
  async buildLayers() {
    const used = new Set(Object.values(this.layersOf).flat());
    for (const layer of used) {
      const site = this.install(this.layerFiles[layer]);
      const zip = new JSZip();
      for (const file of filesUnder(site)) {
        addFile(zip, path.posix.join('python', file), path.join(site, file));
      }
      const artifact = path.resolve(this.serverless.serviceDir, this.layerArtifact(layer));
      fs.mkdirSync(path.dirname(artifact), { recursive: true });
      fs.writeFileSync(artifact, await zipBuffer(zip));
      this.log.info(`Built the ${layer} layer from ${this.layerFiles[layer]}`);
    }
  }

  // Top-level names (packages, modules, distributions) a function's layers already provide.
  providedByLayers(name) {
    const provided = new Set();
    for (const layer of this.layersOf[name] || []) {
      for (const entry of fs.readdirSync(this.install(this.layerFiles[layer]))) {
        provided.add(topLevel(entry));
      }
    }
    return provided;
  }

  // pip install of `requirements` into a directory named by its content (reused across runs).
  install(requirements) {
    const pip = (this.service.custom || {}).pythonRequirements || {};
    const source = path.join(this.serverless.serviceDir, requirements);
    const digest = crypto
      .createHash('sha256')
      .update(fs.readFileSync(source))
      .update(JSON.stringify(pip.pipCmdExtraArgs || []))
      .update(JSON.stringify(this.slimPatterns()))
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
    for (const pattern of this.slimPatterns()) {
      for (const file of glob.sync(`${path.join(target, 'site')}/${pattern}`)) {
        fs.rmSync(file, { recursive: true, force: true });
      }
    }
    fs.writeFileSync(done, '');
    return path.join(target, 'site');
  }

  // What serverless-python-requirements drops from the shared requirements (with `slim`).
  slimPatterns() {
    const pip = (this.service.custom || {}).pythonRequirements || {};
    return pip.slim ? pip.slimPatterns || [] : [];
  }

  async injectRequirements(only) {
    for (const [name, files] of Object.entries(this.requirementsOf)) {
      if (only && !only.includes(name)) continue;
      const fn = this.service.getFunction(name);
      const artifact = path.resolve(this.serverless.serviceDir, fn.package.artifact);
      const zip = await JSZip.loadAsync(fs.readFileSync(artifact));
      const provided = this.providedByLayers(name); // e.g. requests, which stripe requires
      for (const requirements of files) {
        const site = this.install(requirements);
        for (const file of filesUnder(site)) {
          if (provided.has(topLevel(file.split('/')[0]))) continue;
          addFile(zip, file, path.join(site, file));
        }
      }
      fs.writeFileSync(artifact, await zipBuffer(zip));
      this.log.info(`Added ${files.join(', ')} to ${name}`);
    }
  }
}

module.exports = StageFeatures;
