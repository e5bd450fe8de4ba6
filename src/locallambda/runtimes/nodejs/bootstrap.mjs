// locallambda Node.js runtime client ("bootstrap").
//
// Speaks the AWS Lambda Runtime API (2018-06-01) using only Node built-ins.
// Behaviour follows the public AWS Node.js runtime interface client (handler
// resolution, error shapes, callback/async semantics, console format); the code
// is our own.
//
// Launch:  node bootstrap.mjs [--esm-node-path]   (cwd = function code dir)
//   --esm-node-path: ES modules are looked for in NODE_PATH too, as nodejs18.x and later do
//   (node_path_hooks.mjs); require() reads NODE_PATH by itself.
// Env read: AWS_LAMBDA_RUNTIME_API (host:port), _HANDLER, LAMBDA_TASK_ROOT,
//   AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION,
//   AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_LOG_GROUP_NAME,
//   AWS_LAMBDA_LOG_STREAM_NAME, AWS_LAMBDA_LOG_FORMAT (TEXT|JSON),
//   AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA, NODE_PATH.
// Env written: _X_AMZN_TRACE_ID (per invoke).

import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { format, types as utilTypes } from 'node:util';
import nodeModule, { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const env = process.env;

// ---------------------------------------------------------------- errors
// Runtime.* error classes (the name lives on the prototype, as AWS does).
function runtimeError(name) {
  const C = class extends Error {};
  Object.defineProperty(C, 'name', { value: name });
  C.prototype.name = `Runtime.${name}`;
  return C;
}
const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
const MalformedStreamingHandler = runtimeError('MalformedStreamingHandler');
const UnhandledPromiseRejection = runtimeError('UnhandledPromiseRejection');
const NodeJsExit = runtimeError('NodeJsExit');
const NODEJS_EXIT_MESSAGE =
  'The Lambda runtime client detected an unexpected Node.js exit code. This is most ' +
  'commonly caused by a Promise that was never settled. For more information, see ' +
  'https://nodejs.org/docs/latest/api/process.html#exit-codes';

function isErrorLike(e) {
  return !!e && typeof e.name === 'string' && typeof e.message === 'string' &&
    typeof e.stack === 'string' && !!e.name && !!e.message && !!e.stack;
}

const DEL = /\x7F/g;
// The JSON document posted to /error and /init/error.
function toRapidError(err) {
  try {
    if (utilTypes.isNativeError(err) || isErrorLike(err)) {
      return {
        errorType: err.name?.replace(DEL, '%7F'),
        errorMessage: err.message?.replace(DEL, '%7F'),
        trace: err.stack.replace(DEL, '%7F').split('\n'),
      };
    }
    return { errorType: typeof err, errorMessage: err.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while ' +
        'retrieving one or more of its message, name, and stack',
    };
  }
}

function intoError(err) {
  if (err instanceof Error) return err;
  try {
    return new Error(typeof err === 'symbol' ? err.toString() : err);
  } catch {
    return new Error('[value that cannot be converted to a string]');
  }
}

// Error → JSON with name/message/code/stack visible (used for the text log line).
function errorReplacer(_k, v) {
  if (v instanceof Error) {
    const out = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
    if (typeof v.stack === 'string') out.stack = v.stack.split('\n');
    return out;
  }
  return v;
}
function formatErrorForText(err) {
  try {
    return '\t' + JSON.stringify(err, errorReplacer);
  } catch {
    return '\t' + JSON.stringify(toRapidError(err));
  }
}

// ---------------------------------------------------------------- logging
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID = Symbol.for('aws.lambda.runtime.tenantId');
let currentRequestId; // mirrors globalThis[REQUEST_ID]
let currentTenantId;
const stdout = process.stdout;
const JSON_FORMAT = (env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

function textLog(level, args) {
  const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${format(...args)}`;
  stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function jsonErrorReplacer(_k, v) {
  if (v instanceof Error) {
    return Object.assign({
      errorType: v?.constructor?.name ?? 'UnknownError',
      errorMessage: v.message,
      stackTrace: typeof v.stack === 'string' ? v.stack.split('\n') : v.stack,
    }, v);
  }
  return v;
}
function jsonLog(level, args) {
  const rec = { timestamp: new Date().toISOString(), level, requestId: currentRequestId };
  if (currentTenantId != null) rec.tenantId = currentTenantId;
  let line;
  if (args.length === 1) {
    rec.message = args[0];
    try {
      line = JSON.stringify(rec, jsonErrorReplacer);
    } catch {
      rec.message = format(rec.message);
      line = JSON.stringify(rec);
    }
  } else {
    rec.message = format(...args);
    for (const a of args) {
      if (a instanceof Error) {
        rec.errorType = a?.constructor?.name ?? 'UnknownError';
        rec.errorMessage = a.message;
        rec.stackTrace = typeof a.stack === 'string' ? a.stack.split('\n') : [];
        break;
      }
    }
    line = JSON.stringify(rec);
  }
  stdout.write(line.replace(/\n/g, '\r') + '\n');
}

const writeLog = JSON_FORMAT ? jsonLog : textLog;

function patchConsole() {
  const prio = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };
  const min = prio[(env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? 1;
  const nop = () => {};
  const mk = (level) => (prio[level] >= min
    ? (msg, ...rest) => writeLog(level, [msg, ...rest])
    : nop);
  console.trace = mk('TRACE');
  console.debug = mk('DEBUG');
  console.info = mk('INFO');
  console.log = console.info;
  console.warn = mk('WARN');
  console.error = mk('ERROR');
  console.fatal = (msg, ...rest) => writeLog('FATAL', [msg, ...rest]);
}

function logError(what, err) {
  if (JSON_FORMAT) writeLog('ERROR', [intoError(err)]);
  else writeLog('ERROR', [what, formatErrorForText(intoError(err))]);
}

// ---------------------------------------------------------------- Runtime API client
const api = env.AWS_LAMBDA_RUNTIME_API || '';
let hostname, port;
{
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(api) || /^([^:]*)(?::(\d+))?$/.exec(api);
  hostname = (m && m[1]) || '127.0.0.1';
  port = m && m[2] ? parseInt(m[2], 10) : 80;
}
const BASE = '/2018-06-01/runtime';
const NEXT_PATH = `${BASE}/invocation/next`;
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';

function fatal(err) {
  process.stderr.write(`locallambda bootstrap: Runtime API failure: ${err && err.stack || err}\n`);
  process.exit(1);
}

// One kept connection, written and read directly (node:http's client costs several times more
// per request). Answers come back in the order of the requests: each one's callback is queued.
// After a result or an error, the next GET /next goes out in the same write (pipelined); the
// Runtime API answers the post's 202 with the next event. The socket is unref'd while nothing
// is asked, as an idle kept-alive socket of node:http is: the event loop can drain (beforeExit).
const HOST_HEADER = `Host: ${api || '127.0.0.1'}\r\n`;
const NEXT_REQUEST = Buffer.from(`GET ${NEXT_PATH} HTTP/1.1\r\n${HOST_HEADER}\r\n`, 'latin1');
let conn = null;
const waiting = [];        // (status, headers, body) => void, one per request sent

function connection() {
  if (conn) return conn;
  conn = net.connect({ host: hostname, port });
  conn.setNoDelay(true);
  conn.on('data', onData);
  conn.on('error', (err) => { if (waiting.length) fatal(err); else conn = null; });
  conn.on('close', () => {
    conn = null;
    parts = [];
    partsLength = needed = 0;
    if (waiting.length) fatal(new Error('the Runtime API closed the connection'));
  });
  return conn;
}

function send(bytes, ...callbacks) {
  const c = connection();
  waiting.push(...callbacks);
  c.ref();
  c.write(bytes);
}

let parts = [];             // what arrived and is not parsed yet, and its length
let partsLength = 0;
let needed = 0;            // how many bytes the answer being read needs in all (0: unknown)

function onData(chunk) {
  parts.push(chunk);
  partsLength += chunk.length;
  if (partsLength < needed) return; // a large event still arriving: joined once it is all here
  let input = parts.length === 1 ? parts[0] : Buffer.concat(parts, partsLength);
  for (;;) {
    const end = input.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = input.toString('latin1', 0, end).split('\r\n');
    const headers = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      if (colon > 0) headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
    }
    const total = end + 4 + Number(headers['content-length'] || 0);
    if (input.length < total) {
      needed = total;
      break;
    }
    needed = 0;
    const body = input.subarray(end + 4, total);
    input = input.subarray(total);
    const status = Number(lines[0].split(' ')[1]);
    const cb = waiting.shift();
    if (!waiting.length && conn) conn.unref();
    if (cb) cb(status, headers, body);
  }
  parts = input.length ? [input] : [];
  partsLength = input.length;
}

function post(urlPath, body, extraHeaders, cb) {
  let head = `POST ${urlPath} HTTP/1.1\r\n${HOST_HEADER}Content-Type: application/json\r\n`;
  if (extraHeaders) for (const [k, v] of Object.entries(extraHeaders)) head += `${k}: ${v}\r\n`;
  const payload = Buffer.from(body, 'utf8');
  const request = Buffer.concat([Buffer.from(`${head}Content-Length: ${payload.length}\r\n\r\n`, 'latin1'), payload]);
  if (cb === next) send(Buffer.concat([request, NEXT_REQUEST]), () => {}, onNext);
  else send(request, () => cb());
}

// Header values must be printable latin-1; strip what would make setHeader throw.
function headerSafe(s) {
  s = String(s ?? '').replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
  return s || 'Unhandled';
}

function postError(urlPath, err, cb) {
  const doc = toRapidError(err);
  let body;
  try {
    body = JSON.stringify(doc);
  } catch {
    body = JSON.stringify({ errorType: 'handled', errorMessage: 'error could not be serialized', trace: [] });
  }
  post(urlPath, body, { [ERROR_TYPE_HEADER]: headerSafe(doc.errorType) }, cb);
}

function postInitError(err, cb) {
  postError(`${BASE}/init/error`, err, cb);
}

// ---------------------------------------------------------------- handler loading
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');

function hasTypeModule(dir) {
  // Nearest package.json decides; stop at node_modules or filesystem root.
  for (;;) {
    if (dir.endsWith('/node_modules')) return false;
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
        if (pkg) return pkg.type === 'module';
      } catch (e) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

function tryRequire(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}
async function tryImport(file) {
  if (!fs.existsSync(file)) return undefined;
  await searchNodePathForEsm();
  return await import(pathToFileURL(file).href);
}

async function loadModule(appRoot, moduleRoot, mod) {
  const base = path.resolve(appRoot, moduleRoot, mod);
  // 1. the exact name (extensionless file or directory) via require
  let m = tryRequire(base);
  if (m) return m;
  // 2. foo.js as CommonJS unless the nearest package.json says "type": "module"
  const jsExists = fs.existsSync(base + '.js');
  const typeModule = jsExists && hasTypeModule(path.dirname(base + '.js'));
  if (!typeModule) {
    m = tryRequire(base + '.js');
    if (m) return m;
  }
  // 3. .js (as ESM), .mjs, .cjs
  m = (typeModule && await tryImport(base + '.js')) ||
    await tryImport(base + '.mjs') ||
    tryRequire(base + '.cjs');
  if (m) return m;
  // 4. node-style resolution (node_modules, NODE_PATH) relative to the app root
  return require(require.resolve(mod, { paths: [appRoot, moduleRoot] }));
}

async function loadHandler(appRoot, fullHandler) {
  if (!fullHandler) throw new MalformedHandlerName('Bad handler');
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(`'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  // 'dir/sub/module.nested.fn' → moduleRoot 'dir/sub/', module 'module', path 'nested.fn'
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const match = /^([^.]*)\.(.*)$/.exec(handlerString);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, mod, fnPath] = match;

  if (env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA !== '1' && env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA !== 'true') {
    globalThis.awslambda = {
      streamifyResponse(handler, options) {
        handler[HANDLER_STREAMING] = 'response';
        if (typeof options?.highWaterMark === 'number') {
          handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark);
        }
        return handler;
      },
      HttpResponseStream,
    };
  }

  let userModule;
  try {
    userModule = await loadModule(appRoot, moduleRoot, mod);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
  const fn = fnPath.split('.').reduce((o, k) => o && o[k], userModule);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  const streaming = fn[HANDLER_STREAMING];
  if (streaming != null && streaming !== false && streaming !== 'response') {
    throw new MalformedStreamingHandler('Only response streaming is supported.');
  }
  return fn;
}

// ---------------------------------------------------------------- response streaming
// As the AWS Node.js runtime client streams (aws-lambda-nodejs-runtime-interface-client,
// ResponseStream.js / HttpResponseStream.js / Runtime.js), in our own code: the handler gets a
// writable stream that is the body of a chunked POST /response with
// Lambda-Runtime-Function-Response-Mode: streaming; an error after it began goes in the
// trailers Lambda-Runtime-Function-Error-Type / Lambda-Runtime-Function-Error-Body (the error
// document, base64). Docs: config-rs-write-functions.html, runtimes-custom.html.
const InvalidStreamingOperation = runtimeError('InvalidStreamingOperation');
const RESPONSE_MODE_HEADER = 'Lambda-Runtime-Function-Response-Mode';
const ERROR_BODY_TRAILER = 'Lambda-Runtime-Function-Error-Body';
const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const STREAM_DEFAULT_CONTENT_TYPE = 'application/octet-stream';

// awslambda.HttpResponseStream: the JSON prelude (statusCode, headers, cookies) and 8 NUL bytes
// go before the body, written with the stream's first write() (not by end(chunk) alone, as in
// AWS's client).
class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(PRELUDE_CONTENT_TYPE);
    const metadataPrelude = JSON.stringify(prelude); // JSON escapes any NUL in it
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadataPrelude);
      write(new Uint8Array(8));
    };
    return underlyingStream;
  }
}

// The streamed response goes on a connection of its own: /error (an uncaught exception during
// the stream) must not wait behind it.
let streamAgent;
function getStreamAgent() {
  if (!streamAgent) {
    streamAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    if (streamHighWaterMark !== undefined) {
      const create = streamAgent.createConnection.bind(streamAgent);
      streamAgent.createConnection = (opts, cb) => create({ ...opts, highWaterMark: streamHighWaterMark }, cb);
    }
  }
  return streamAgent;
}

const STREAM_METHODS = [
  'cork', 'destroy', 'end', 'uncork', 'write',
  'addListener', 'emit', 'eventNames', 'getMaxListeners', 'listenerCount', 'listeners', 'off', 'on',
  'once', 'prependListener', 'prependOnceListener', 'rawListeners', 'removeAllListeners',
  'removeListener', 'setMaxListeners', 'setContentType',
];
const STREAM_SETTABLE = ['destroyed', 'writable', '_onBeforeFirstWrite'];
const STREAM_READ_ONLY = [
  'writableFinished', 'writableObjectMode', 'writableBuffer', 'writableEnded', 'writableNeedDrain',
  'writableHighWaterMark', 'writableCorked', 'writableLength',
];

// What the handler sees of the request: a Writable, nothing of the HTTP client behind it.
function writableOnly(inner) {
  const view = {};
  for (const name of STREAM_METHODS) view[name] = inner[name].bind(inner);
  for (const name of STREAM_SETTABLE) {
    Object.defineProperty(view, name, { get: () => inner[name], set: (v) => { inner[name] = v; } });
  }
  for (const name of STREAM_READ_ONLY) Object.defineProperty(view, name, { get: () => inner[name] });
  return view;
}

// The chunked POST /response of one invocation; `onAnswered` runs once the Runtime API answered.
function createResponseStream(id, onAnswered) {
  let written = false;
  const req = http.request({
    agent: getStreamAgent(), hostname, port, method: 'POST',
    path: `${BASE}/invocation/${encodeURIComponent(id)}/response`,
    headers: {
      [RESPONSE_MODE_HEADER]: 'streaming',
      Trailer: [ERROR_TYPE_HEADER, ERROR_BODY_TRAILER],
      'Content-Type': STREAM_DEFAULT_CONTENT_TYPE,
    },
  }, (res) => { res.on('end', onAnswered); res.resume(); });
  req.on('error', fatal);
  req.setContentType = (contentType) => {
    if (written) throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    req.setHeader('Content-Type', contentType);
  };
  const write = req.write.bind(req);
  req.write = function (chunk, encoding, callback) {
    if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && chunk?.constructor !== Uint8Array) {
      chunk = JSON.stringify(chunk);
    }
    if (!written && typeof this._onBeforeFirstWrite === 'function') {
      this._onBeforeFirstWrite((part) => write(part));
    }
    written = true;
    return write(chunk, encoding, callback);
  };
  // The error document in the trailers, then the end of the body.
  const fail = (err, callback) => {
    if (req.writableEnded) { // too late for trailers: the response is complete
      if (callback) callback();
      return;
    }
    const doc = toRapidError(err);
    req.addTrailers({
      [ERROR_TYPE_HEADER]: headerSafe(doc.errorType),
      [ERROR_BODY_TRAILER]: Buffer.from(JSON.stringify(doc)).toString('base64'),
    });
    req.end(callback);
  };
  return { stream: writableOnly(req), fail };
}

// ---------------------------------------------------------------- invoke loop
let handler;
let isAsync = false;
let isStreaming = false;
let streamHighWaterMark;
let active = null;            // request id of the invoke in progress
let beforeExitAction = null;  // what to do when the event loop drains

function next() {
  send(NEXT_REQUEST, onNext);
}

function onNext(status, headers, body) {
  if (status !== 200) {
    fatal(new Error(`GET /runtime/invocation/next returned HTTP ${status}`));
    return;
  }
  if (isStreaming) invokeStreaming(headers, body.toString('utf8'));
  else invoke(headers, body.toString('utf8'));
}

function parseJsonHeader(v, name) {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

const FN_NAME = env.AWS_LAMBDA_FUNCTION_NAME;
const FN_VERSION = env.AWS_LAMBDA_FUNCTION_VERSION;
const FN_MEMORY = env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;
const LOG_GROUP = env.AWS_LAMBDA_LOG_GROUP_NAME;
const LOG_STREAM = env.AWS_LAMBDA_LOG_STREAM_NAME;

function beginInvoke(h) {
  const id = h['lambda-runtime-aws-request-id'];
  active = id;
  currentRequestId = globalThis[REQUEST_ID] = id;
  currentTenantId = globalThis[TENANT_ID] = h['lambda-runtime-aws-tenant-id'];
  const trace = h['lambda-runtime-trace-id'];
  if (trace) env._X_AMZN_TRACE_ID = trace;
  else delete env._X_AMZN_TRACE_ID;
  return id;
}

function buildContext(h, id, base) {
  const deadline = Number(h['lambda-runtime-deadline-ms']);
  base.functionVersion = FN_VERSION;
  base.functionName = FN_NAME;
  base.memoryLimitInMB = FN_MEMORY;
  base.logGroupName = LOG_GROUP;
  base.logStreamName = LOG_STREAM;
  base.clientContext = parseJsonHeader(h['lambda-runtime-client-context'], 'ClientContext');
  base.identity = parseJsonHeader(h['lambda-runtime-cognito-identity'], 'CognitoIdentity');
  base.invokedFunctionArn = h['lambda-runtime-invoked-function-arn'];
  base.awsRequestId = id;
  base.tenantId = h['lambda-runtime-aws-tenant-id'];
  base.getRemainingTimeInMillis = () => deadline - Date.now();
  return base;
}

function sendResponse(id, result) {
  let body;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch {
    sendError(id, new Error('Unable to stringify response body'));
    return;
  }
  if (body === undefined) body = 'null'; // e.g. a function or symbol
  active = null;
  post(`${BASE}/invocation/${encodeURIComponent(id)}/response`, body, null, next);
}

function sendError(id, err, then = next) {
  active = null;
  postError(`${BASE}/invocation/${encodeURIComponent(id)}/error`, err, then);
}

function invoke(h, body) {
  const id = beginInvoke(h);
  let finished = false;   // only the first of callback/done/succeed/fail counts
  let completed = false;  // a result has been posted
  let waits = true;       // context.callbackWaitsForEmptyEventLoop

  const fail = (err) => {
    logError('Invoke Error', err);
    sendError(id, err);
  };
  const complete = (result) => {
    if (completed) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
      return;
    }
    completed = true;
    sendResponse(id, result);
  };
  const callback = (err, result) => {
    if (finished) return;
    finished = true;
    beforeExitAction = null;
    if (err !== undefined && err !== null) fail(err);
    else if (!waits) complete(result);
    else beforeExitAction = () => { beforeExitAction = null; setImmediate(complete, result); };
  };
  const done = (err, result) => {
    if (finished) return;
    finished = true;
    beforeExitAction = null;
    if (err !== undefined && err !== null) fail(err);
    else complete(result);
  };
  const context = {
    get callbackWaitsForEmptyEventLoop() { return waits; },
    set callbackWaitsForEmptyEventLoop(v) { waits = v; },
    succeed: (result) => done(null, result),
    fail: (err) => done(err === undefined || err === null ? 'handled' : err, null),
    done,
  };

  let result;
  try {
    const event = JSON.parse(body);
    buildContext(h, id, context);
    // Neither a settled promise nor the callback: decide when the loop drains.
    beforeExitAction = () => {
      beforeExitAction = null;
      if (finished) return;
      finished = completed = true;
      if (isAsync) {
        const e = new NodeJsExit(NODEJS_EXIT_MESSAGE);
        logError('Invoke Error', e);
        sendError(id, e);
      } else {
        sendResponse(id, null);
      }
    };
    result = handler(event, context, callback);
  } catch (err) {
    callback(err);
    return;
  }
  if (result && typeof result.then === 'function') {
    result.then(context.succeed, context.fail);
  }
}

// Streaming handlers: handler(event, responseStream, context), as AWS's Runtime.handleOnceStreaming.
function invokeStreaming(h, body) {
  const id = beginInvoke(h);
  let waits = true; // context.callbackWaitsForEmptyEventLoop
  let nextScheduled = false;
  // After the Runtime API has the whole response: the next event, once the event loop is
  // empty unless the handler said not to wait.
  const scheduleNext = () => {
    if (nextScheduled) return;
    nextScheduled = true;
    active = null;
    if (!waits) next();
    else beforeExitAction = () => { beforeExitAction = null; setImmediate(next); };
  };
  const { stream, fail } = createResponseStream(id, scheduleNext);
  const failStream = (err) => {
    logError('Invoke Error', err);
    fail(err);
  };
  const context = {
    get callbackWaitsForEmptyEventLoop() { return waits; },
    set callbackWaitsForEmptyEventLoop(v) { waits = v; },
  };
  // A handler that neither ends its stream nor keeps the event loop busy: on to the next event.
  beforeExitAction = () => { beforeExitAction = null; scheduleNext(); };
  let result;
  try {
    const event = JSON.parse(body);
    buildContext(h, id, context);
    result = handler(event, stream, context);
  } catch (err) {
    failStream(err);
    return;
  }
  if (!result || typeof result.then !== 'function') {
    failStream('Streaming does not support non-async handlers.');
    return;
  }
  result.then((v) => {
    if (v !== undefined) console.warn('Streaming handlers ignore return values.');
  }, failStream);
}

// ---------------------------------------------------------------- process-level failures
function onFatalUserError(err, label, exitCode) {
  logError(label, err);
  const id = active;
  const exit = () => process.exit(exitCode);
  if (!handler) postInitError(err, exit);        // still initialising
  else if (id) sendError(id, err, exit);         // during an invoke
  else exit();                                   // between invokes
}

process.on('uncaughtException', (err) => onFatalUserError(err, 'Uncaught Exception', 129));
process.on('unhandledRejection', (reason, promise) => {
  let err;
  try {
    err = new UnhandledPromiseRejection(typeof reason === 'symbol' ? reason.toString() : reason);
  } catch {
    err = new UnhandledPromiseRejection('[reason that cannot be converted to a string]');
  }
  err.reason = reason;
  err.promise = promise;
  onFatalUserError(err, 'Unhandled Promise Rejection', 128);
});
process.on('beforeExit', () => {
  const f = beforeExitAction;
  if (f) f();
});

// ---------------------------------------------------------------- ES modules and NODE_PATH
// With --esm-node-path, ES modules are looked for in the NODE_PATH directories too (read at
// start, as require() reads them). module.registerHooks (Node.js 22.15+) runs in this thread and
// is installed at start. module.register starts a loader thread, which costs a cold start some
// 40 ms: it is installed only before the handler is imported as an ES module (a CommonJS
// handler's own import() of a package that only NODE_PATH has is then not found).
const ESM_NODE_PATH = process.argv.includes('--esm-node-path');
let esmNodePathSearched = false;

async function searchNodePathForEsm() {
  if (!ESM_NODE_PATH || esmNodePathSearched) return;
  esmNodePathSearched = true;
  const paths = (env.NODE_PATH || '').split(path.delimiter).filter(Boolean).map((p) => path.resolve(p));
  if (paths.length === 0) return;
  const hooks = new URL('./node_path_hooks.mjs', import.meta.url).href;
  if (typeof nodeModule.registerHooks === 'function') {
    const { initialize, resolveSync } = await import(hooks);
    initialize({ paths });
    nodeModule.registerHooks({ resolve: resolveSync });
  } else {
    nodeModule.register(hooks, { data: { paths } });
  }
}

// ---------------------------------------------------------------- start
patchConsole();
if (typeof nodeModule.registerHooks === 'function') await searchNodePathForEsm();
if (!api) {
  process.stderr.write('locallambda bootstrap: AWS_LAMBDA_RUNTIME_API is not set\n');
  process.exit(1);
}
let loaded;
try {
  loaded = await loadHandler(env.LAMBDA_TASK_ROOT || process.cwd(), env._HANDLER || '');
} catch (err) {
  logError('Uncaught Exception', err);
  postInitError(err, () => process.exit(129));
}
if (loaded) {
  handler = loaded;
  isAsync = handler.constructor?.name === 'AsyncFunction';
  isStreaming = handler[HANDLER_STREAMING] === 'response';
  const hwm = parseInt(handler[HANDLER_HIGHWATERMARK]);
  streamHighWaterMark = Number.isNaN(hwm) ? undefined : hwm;
  next();
}
