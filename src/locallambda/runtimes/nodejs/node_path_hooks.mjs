// locallambda: ES module resolution that also searches NODE_PATH, as AWS's nodejs18.x and later do.
//
// Node.js itself reads NODE_PATH for require() only. AWS's runtimes from nodejs18.x on look in
// the NODE_PATH folders when they load ES modules too (AWS Compute Blog, "Node.js 18.x runtime
// now available in AWS Lambda"; nodejs16.x does not): that is how
// `import { S3Client } from "@aws-sdk/client-s3"` finds the bundled SDK in
// /var/runtime/node_modules, and how ES modules are imported from layers.
//
// A bare specifier is resolved as Node does first (the importer's own node_modules, up the
// tree: the function's own copy of a package wins); only when that finds no package are the
// NODE_PATH directories tried, in order, each as a folder holding packages (CommonJS's reading
// of NODE_PATH). A package with "exports" is resolved by its own name from inside it (so the
// "import" conditions apply); one without by its "main" or the file named. When no directory
// has it, Node's own error stands ("Cannot find package ... imported from ...").
//
// Installed by bootstrap.mjs with module.register (hooks on the loader thread; `initialize`
// receives the directories) or, where Node has it, module.registerHooks (same thread, sync).

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
let dirs = [];

export function initialize(data) {
  dirs = Array.isArray(data?.paths) ? data.paths : [];
}

function isBare(specifier) {
  return !(specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('#') ||
    /^[a-zA-Z][a-zA-Z\d+.-]*:/.test(specifier));
}

function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function readManifest(root) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  } catch {
    return null;
  }
}

// What to resolve instead, directory by directory: [specifier, parentURL] pairs.
function* attempts(specifier) {
  const name = packageName(specifier);
  const subpath = specifier.slice(name.length); // '' or '/…'
  for (const dir of dirs) {
    const root = path.join(dir, name);
    const manifest = readManifest(root);
    if (manifest && manifest.exports != null && manifest.name === name) {
      // A package may import itself by name: resolved from its own package.json, with "exports".
      yield [specifier, pathToFileURL(path.join(root, 'package.json')).href];
    } else if (subpath) {
      yield [pathToFileURL(root + subpath).href, undefined];
    } else if (manifest || fs.existsSync(root)) {
      let main;
      try {
        main = require.resolve(root); // "main", else index.js: the legacy lookup ESM shares
      } catch {
        continue;
      }
      yield [pathToFileURL(main).href, undefined];
    }
  }
}

function fallsBack(err, specifier) {
  return dirs.length > 0 && err?.code === 'ERR_MODULE_NOT_FOUND' && isBare(specifier);
}

function notFound(err) {
  return err?.code === 'ERR_MODULE_NOT_FOUND';
}

// module.register's hook (asynchronous).
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (!fallsBack(err, specifier)) throw err;
    for (const [again, parentURL] of attempts(specifier)) {
      try {
        return await nextResolve(again, parentURL ? { ...context, parentURL } : context);
      } catch (e) {
        if (!notFound(e)) throw e;
      }
    }
    throw err;
  }
}

// module.registerHooks's hook (synchronous, Node.js 22.15 and later).
export function resolveSync(specifier, context, nextResolve) {
  try {
    return nextResolve(specifier, context);
  } catch (err) {
    if (!fallsBack(err, specifier)) throw err;
    for (const [again, parentURL] of attempts(specifier)) {
      try {
        return nextResolve(again, parentURL ? { ...context, parentURL } : context);
      } catch (e) {
        if (!notFound(e)) throw e;
      }
    }
    throw err;
  }
}
