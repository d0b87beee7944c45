'use strict';

// Local plugin: what a stage protects and who is told when it breaks. It reads
// custom.operations (fed by config/<stage>.yml, see config/simple.yml) and applies it, when
// the template is complete, to every table, user pool, function and listed dead-letter
// queue in it: a function or table added to serverless.yml is covered without being
// listed anywhere.
//
// - keepData: true (dev, prod): tables and user pools survive `sls remove` and any change
//   that would replace them (DeletionPolicy and UpdateReplacePolicy Retain), cannot be
//   deleted while their deletion protection is on, and tables have point-in-time recovery.
//   The dead-letter queues (the messages set aside, to inspect and redrive) and the log
//   groups (what happened) are retained the same way. false (simple): everything, data
//   included, goes with the stack.
// - reservedConcurrency: N > 0 caps (and reserves) each function's concurrent executions,
//   unless the function sets its own reservedConcurrency. 0: no reservation.
// - alarmEmail: CloudWatch alarms to one SNS topic with this e-mail subscription: the
//   API's 5xx rate, each function's Errors and Throttles, each table's and index's
//   throttled requests, and messages in each of deadLetterQueues. Empty: no alarms.
// - sesMail: {identityArn, from, required, subject, message}: every user pool sends its
//   verification and password-reset codes through Amazon SES as that identity, with that text
//   (EmailConfiguration DEVELOPER, VerificationMessageTemplate); without an identity, through
//   Cognito's own sender with Cognito's text. `required` (prod) fails packaging without both
//   settings; with alarms, the account's SES bounce and complaint rates are alarmed at SES's
//   own review thresholds.
// - metricAlarms: [{function, metric, description}]: a metric the function reports itself
//   (embedded metric format, namespace the service, dimension service = the function), alarmed
//   when its sum in a period reaches 1.
// - dailyChecks: functions that run once a day and fail while something needs the operator
//   (checkSesAccount: SES still in the sandbox). Their errors alarm looks at one day and keeps
//   its state without data, so it stays raised from one run to the next until a run succeeds,
//   instead of going back to OK five minutes after each failed run.

const PERIOD = 300; // seconds: one evaluation period of every alarm (but daily checks')
const DAY = 86400; // seconds: a daily check's errors alarm (CloudWatch's longest period)
const TOPIC = 'AlarmTopic';

class Operations {
  constructor(serverless) {
    this.serverless = serverless;
    this.provider = serverless.getProvider('aws');
    this.hooks = {
      // After resources (and extensions) are merged, just before the template is written.
      'before:aws:package:finalize:saveServiceState': () => this.apply(),
      // A stage that must send through SES fails at once, before anything is packaged.
      'before:package:initialize': () => this.checkSesMail(),
    };
  }

  get settings() {
    return (this.serverless.service.custom && this.serverless.service.custom.operations) || {};
  }

  apply() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const resources = template.Resources;
    const { keepData, reservedConcurrency, alarmEmail } = this.settings;
    if (![true, false].includes(keepData)) {
      throw new this.serverless.classes.Error(
        `custom.operations.keepData must be true or false, not ${JSON.stringify(keepData)}`
      );
    }
    const sesMail = this.checkSesMail();
    this.protectData(resources, keepData);
    this.sendMail(resources, sesMail);
    if (reservedConcurrency) this.reserveConcurrency(resources, reservedConcurrency);
    if (alarmEmail) Object.assign(resources, this.alarms(resources, alarmEmail, sesMail));
  }

  // Both or neither; a stage that requires SES (prod) cannot be packaged with Cognito's sender,
  // which stops at 50 emails a day per account.
  checkSesMail() {
    const { identityArn = '', from = '', required = false } = this.settings.sesMail || {};
    const stage = this.provider.getStage();
    const fix =
      `set sesIdentityArn and mailFrom in config/${stage}.yml (SES_IDENTITY_ARN=` +
      "arn:aws:ses:<region>:<account>:identity/<domain> MAIL_FROM='ChessDojo " +
      "<no-reply@<domain>>'; docs/deploy.md, \"Mail through SES\")";
    if ((required === true || required === 'true') && !(identityArn && from)) {
      throw new this.serverless.classes.Error(
        `${stage} sends sign-up and password-reset mail through Amazon SES (Cognito's own ` +
          `sender stops at 50 emails a day): ${fix}`
      );
    }
    if (Boolean(identityArn) !== Boolean(from)) {
      throw new this.serverless.classes.Error(`SES mail needs both settings: ${fix}`);
    }
    if (identityArn && !/^arn:aws[\w-]*:ses:[\w-]+:\d{12}:identity\/.+/.test(identityArn)) {
      throw new this.serverless.classes.Error(`sesIdentityArn is not an SES identity ARN: ${fix}`);
    }
    return Boolean(identityArn);
  }

  protectData(resources, keepData) {
    const policy = keepData ? 'Retain' : 'Delete';
    for (const resource of Object.values(resources)) {
      if (resource.Type === 'AWS::DynamoDB::Table') {
        Object.assign(resource, { DeletionPolicy: policy, UpdateReplacePolicy: policy });
        Object.assign(resource.Properties, {
          DeletionProtectionEnabled: keepData,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: keepData },
        });
      } else if (resource.Type === 'AWS::Cognito::UserPool') {
        Object.assign(resource, { DeletionPolicy: policy, UpdateReplacePolicy: policy });
        resource.Properties.DeletionProtection = keepData ? 'ACTIVE' : 'INACTIVE';
      } else if (['AWS::SQS::Queue', 'AWS::Logs::LogGroup'].includes(resource.Type)) {
        // The messages set aside and the logs outlive the stack as the tables do. Neither has
        // deletion protection to turn on.
        Object.assign(resource, { DeletionPolicy: policy, UpdateReplacePolicy: policy });
      }
    }
  }

  sendMail(resources, throughSes) {
    const { identityArn, from, subject, message } = this.settings.sesMail || {};
    for (const resource of Object.values(resources)) {
      if (resource.Type !== 'AWS::Cognito::UserPool') continue;
      if (!throughSes) {
        resource.Properties.EmailConfiguration = { EmailSendingAccount: 'COGNITO_DEFAULT' };
        continue;
      }
      resource.Properties.EmailConfiguration = {
        EmailSendingAccount: 'DEVELOPER',
        SourceArn: identityArn,
        From: from,
      };
      resource.Properties.VerificationMessageTemplate = {
        DefaultEmailOption: 'CONFIRM_WITH_CODE',
        EmailSubject: subject,
        EmailMessage: message,
      };
    }
  }

  reserveConcurrency(resources, limit) {
    for (const name of this.serverless.service.getAllFunctions()) {
      const own = this.serverless.service.getFunction(name).reservedConcurrency;
      if (own !== undefined && own !== null) continue;
      const { Properties } = resources[this.provider.naming.getLambdaLogicalId(name)];
      Properties.ReservedConcurrentExecutions = limit;
    }
  }

  alarms(resources, email, sesMail) {
    const service = this.serverless.service.service;
    const stage = this.provider.getStage();
    const prefix = `${service}-${stage}`;
    // An alarm on a resource that only some stages create (a Condition, e.g. the notify
    // function and its queue) exists exactly where that resource does.
    const alarm = (name, description, properties, condition) => ({
      Type: 'AWS::CloudWatch::Alarm',
      ...(condition ? { Condition: condition } : {}),
      Properties: {
        AlarmName: `${prefix} ${name}`,
        AlarmDescription: description,
        AlarmActions: [{ Ref: TOPIC }],
        OKActions: [{ Ref: TOPIC }],
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        // No data (no traffic, no throttling) is not an incident.
        TreatMissingData: 'notBreaching',
        ...properties,
      },
    });
    const sum = (namespace, metricName, dimensions) => ({
      Namespace: namespace,
      MetricName: metricName,
      Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
      Statistic: 'Sum',
      Period: PERIOD,
      Threshold: 1,
    });

    const added = {
      [TOPIC]: {
        Type: 'AWS::SNS::Topic',
        Properties: { TopicName: `${prefix}-alarms`, DisplayName: `${prefix} alarms` },
      },
      [`${TOPIC}EmailSubscription`]: {
        Type: 'AWS::SNS::Subscription',
        Properties: { TopicArn: { Ref: TOPIC }, Protocol: 'email', Endpoint: email },
      },
    };

    const dailyChecks = this.settings.dailyChecks || [];
    for (const name of this.serverless.service.getAllFunctions()) {
      const id = this.provider.naming.getNormalizedFunctionName(name);
      const functionId = this.provider.naming.getLambdaLogicalId(name);
      const { Condition } = resources[functionId];
      const dimensions = { FunctionName: { Ref: functionId } };
      const logs = `log group /aws/lambda/${this.serverless.service.getFunction(name).name}`;
      added[`${id}ErrorsAlarm`] = dailyChecks.includes(name)
        ? alarm(
            `${name} errors`,
            `${name}, which runs once a day, failed in the last day: what it checks needs you. ` +
              `Its ${logs} says what and what to do. The alarm stays raised until a run ` +
              'succeeds.',
            {
              ...sum('AWS/Lambda', 'Errors', dimensions),
              Period: DAY,
              // Between two runs there is no data: keep the state the last run left.
              TreatMissingData: 'ignore',
            },
            Condition
          )
        : alarm(
            `${name} errors`,
            `${name} failed at least once in ${PERIOD / 60} minutes: a timeout, a crash at ` +
              `start-up or an exception it let out (the API handlers answer theirs as 500, see ` +
              `the 5xx alarm). Its ${logs} has the request ids and tracebacks.`,
            sum('AWS/Lambda', 'Errors', dimensions),
            Condition
          );
      added[`${id}ThrottlesAlarm`] = alarm(
        `${name} throttles`,
        `${name} was refused at least one invocation in ${PERIOD / 60} minutes: it reached ` +
          'its reserved concurrency or the account limit, and those callers got an error.',
        sum('AWS/Lambda', 'Throttles', dimensions),
        Condition
      );
    }

    const api = this.provider.naming.getHttpApiLogicalId();
    if (resources[api]) {
      const percent = this.settings.api5xxPercent;
      const apiMetric = (id, metricName) => ({
        Id: id,
        ReturnData: false,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/ApiGateway',
            MetricName: metricName,
            Dimensions: [{ Name: 'ApiId', Value: { Ref: api } }],
          },
          Period: PERIOD,
          Stat: 'Sum',
        },
      });
      added.HttpApi5xxRateAlarm = alarm(
        'API 5xx rate',
        `At least ${percent}% of the HTTP API's requests in ${PERIOD / 60} minutes answered ` +
          `5xx. The access log (${this.provider.naming.getHttpApiLogGroupName()}) has each ` +
          "request's id, route and status; the function's log has the cause.",
        {
          Threshold: percent,
          Metrics: [
            apiMetric('errors', '5xx'),
            apiMetric('requests', 'Count'),
            { Id: 'rate', Expression: '100 * errors / requests', Label: '5xx % of requests' },
          ],
        }
      );
    }

    for (const [id, resource] of Object.entries(resources)) {
      if (resource.Type !== 'AWS::DynamoDB::Table') continue;
      const table = { TableName: { Ref: id } };
      added[`${id}ThrottleAlarm`] = this.throttleAlarm(alarm, id, table, resource.Condition);
      for (const index of resource.Properties.GlobalSecondaryIndexes || []) {
        const dimensions = { ...table, GlobalSecondaryIndexName: index.IndexName };
        const name = `${id} ${index.IndexName}`;
        const indexId = this.provider.naming.normalizeNameToAlphaNumericOnly(index.IndexName);
        added[`${id}${indexId}ThrottleAlarm`] = this.throttleAlarm(
          alarm,
          name,
          dimensions,
          resource.Condition
        );
      }
    }

    // Functions whose ERROR log lines each need an operator (custom.operations.errorLogs, e.g.
    // a refund Stripe failed): a metric filter on the function's log group counts them. A
    // function this stage does not deploy (a feature that is off) has none.
    const deployed = this.serverless.service.getAllFunctions();
    for (const name of (this.settings.errorLogs || []).filter((f) => deployed.includes(f))) {
      const id = this.provider.naming.getNormalizedFunctionName(name);
      const { Condition } = resources[this.provider.naming.getLambdaLogicalId(name)];
      const metric = { Namespace: prefix, MetricName: `${name} error logs` };
      added[`${id}ErrorLogsMetricFilter`] = {
        Type: 'AWS::Logs::MetricFilter',
        ...(Condition ? { Condition } : {}),
        Properties: {
          LogGroupName: { Ref: this.provider.naming.getLogGroupLogicalId(name) },
          FilterPattern: '{ $.level = "ERROR" }',
          MetricTransformations: [
            { MetricNamespace: prefix, MetricName: metric.MetricName, MetricValue: '1' },
          ],
        },
      };
      added[`${id}ErrorLogsAlarm`] = alarm(
        `${name} error logs`,
        `${name} logged at least one ERROR line in ${PERIOD / 60} minutes: something only an ` +
          `operator can settle (docs/payments.md, "Alarms"). Its log group ` +
          `/aws/lambda/${this.serverless.service.getFunction(name).name} has the line.`,
        { ...metric, Dimensions: [], Statistic: 'Sum', Period: PERIOD, Threshold: 1 },
        Condition
      );
    }

    // Metrics a function reports itself (custom.operations.metricAlarms: CloudWatch's embedded
    // metric format in its log, through Powertools Metrics, namespace the service, dimension
    // `service` = the function), e.g. the reminders sendReminders dropped unsent at a start:
    // each alarms when its sum reaches 1 in a period.
    for (const { function: name, metric, description } of this.settings.metricAlarms || []) {
      if (!deployed.includes(name)) continue;
      const id = this.provider.naming.getNormalizedFunctionName(name);
      const { Condition } = resources[this.provider.naming.getLambdaLogicalId(name)];
      const metricId = this.provider.naming.normalizeNameToAlphaNumericOnly(metric);
      added[`${id}${metricId}Alarm`] = alarm(
        `${name} ${metric}`,
        `${description} Its log group /aws/lambda/${this.serverless.service.getFunction(name).name} ` +
          'has a line for each.',
        {
          ...sum(service, metric, { service: name }),
        },
        Condition
      );
    }

    for (const queue of this.settings.deadLetterQueues || []) {
      if (!resources[queue] || resources[queue].Type !== 'AWS::SQS::Queue') {
        throw new this.serverless.classes.Error(
          `custom.operations.deadLetterQueues: ${queue} is not an AWS::SQS::Queue in resources`
        );
      }
      added[`${queue}MessagesAlarm`] = alarm(
        `${queue} messages`,
        `${queue} holds messages that could not be processed and were set aside. They stay ` +
          'there (until the queue retention period ends) to be inspected and redriven.',
        {
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
          Statistic: 'Maximum',
          Period: PERIOD,
          Threshold: 1,
        },
        resources[queue].Condition
      );
    }

    if (sesMail) {
      // The account's reputation as SES computes it (a share, 0.05 = 5%): at these rates SES
      // puts the account under review, and may then pause its sending (no sign-up codes).
      const reputation = (metricName, threshold, what) =>
        alarm(
          `SES ${what} rate`,
          `Amazon SES's ${what} rate for this account reached ${threshold * 100}%, the rate at ` +
            'which SES reviews the account and may pause its sending (Cognito could then send ' +
            'no verification or password-reset code). SES console, Reputation metrics.',
          {
            Namespace: 'AWS/SES',
            MetricName: metricName,
            Dimensions: [], // the account's rate, as SES computes it
            Statistic: 'Maximum',
            Period: PERIOD,
            Threshold: threshold,
          }
        );
      added.SesBounceRateAlarm = reputation('Reputation.BounceRate', 0.05, 'bounce');
      added.SesComplaintRateAlarm = reputation('Reputation.ComplaintRate', 0.001, 'complaint');
    }

    for (const id of Object.keys(added)) {
      if (resources[id]) {
        throw new this.serverless.classes.Error(`operations: ${id} already exists in resources`);
      }
    }
    return added;
  }

  // Read and write requests DynamoDB refused (on-demand tables are throttled too: past
  // a partition's limits or the table's maximum throughput).
  throttleAlarm(alarm, name, dimensions, condition) {
    const metric = (id, metricName) => ({
      Id: id,
      ReturnData: false,
      MetricStat: {
        Metric: {
          Namespace: 'AWS/DynamoDB',
          MetricName: metricName,
          Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
        },
        Period: PERIOD,
        Stat: 'Sum',
      },
    });
    return alarm(
      `${name} throttled`,
      `DynamoDB throttled requests on ${name} in ${PERIOD / 60} minutes. The functions retry ` +
        'a throttled call (3 attempts); a request still throttled then answered 503.',
      {
        Threshold: 1,
        Metrics: [
          metric('reads', 'ReadThrottleEvents'),
          metric('writes', 'WriteThrottleEvents'),
          { Id: 'throttled', Expression: 'FILL(reads, 0) + FILL(writes, 0)', Label: 'throttled' },
        ],
      },
      condition
    );
  }
}

module.exports = Operations;
