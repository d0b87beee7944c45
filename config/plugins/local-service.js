'use strict';

// `sls local-service --stage <stage> --output <file>`: the service as `sls package` shapes it,
// as JSON, for the local stack and the tests (local/serverless.py, docs/one-reading.md), so
// that nothing but the framework and its plugins reads serverless.yml.
//
// It runs the hooks that shape the service before anything is compiled, exactly as packaging
// runs them, and stops there (no template, no pip, no zip: ~3 s):
// - before:package:initialize: stage-features drops the functions of the features that are off
//   and merges the withFeature of those that are on (operations checks the SES settings);
// - before:package:setupProviderConfiguration: serverless-plugin-custom-roles gives each
//   function its role (resources.Resources.<Function>LambdaFunctionRole, with its policies),
//   the role local/iam.py enforces.
// The document has `sls print`'s shape (variables resolved, CloudFormation tags in long form).
// It is written to a file: plugins log to the console, which must not mix with it.

const fs = require('fs');

const SHAPING = ['before:package:initialize', 'before:package:setupProviderConfiguration'];

class LocalService {
  constructor(serverless) {
    this.serverless = serverless;
    this.commands = {
      'local-service': {
        usage: 'Writes the service, shaped as packaging shapes it, as JSON (make run, tests)',
        lifecycleEvents: ['write'],
        options: {
          output: { usage: 'The JSON file to write', required: true, type: 'string' },
        },
      },
    };
    this.hooks = { 'local-service:write': () => this.write() };
  }

  async write() {
    const { pluginManager, service, processedInput } = this.serverless;
    for (const event of SHAPING) {
      await pluginManager.runHooks(event, pluginManager.hooks[event] || []);
    }
    const { compiledCloudFormationTemplate, ...provider } = service.provider;
    const document = {
      service: service.service,
      provider,
      custom: service.custom,
      functions: service.functions,
      layers: service.layers,
      resources: service.resources,
    };
    fs.writeFileSync(processedInput.options.output, JSON.stringify(document));
  }
}

module.exports = LocalService;
