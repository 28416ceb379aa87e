// Node's `url` module for the bundled libraries (azure-devops-node-api, typed-rest-client) that
// call the legacy url.parse(), url.resolve() and url.format(string). Node 24 prints DEP0169 on
// stderr for those calls unless they come from a file under node_modules, which bundled code is
// not. These are Node's own definitions of the three (lib/url.js), built on the same Url class and
// its parser, without the warning: the libraries get exactly the objects they got before.
'use strict';
const url = require('url');

function parse(value, parseQueryString, slashesDenoteHost) {
  if (value instanceof url.Url) return value;
  const parsed = new url.Url();
  parsed.parse(value, parseQueryString, slashesDenoteHost);
  return parsed;
}

// Url.prototype.resolve(relative) is this.resolveObject(urlParse(relative, false, true)).format(),
// and that inner urlParse warns too.
const resolve = (source, relative) => parse(source, false, true).resolveObject(parse(relative, false, true)).format();

const format = (value, options) => (typeof value === 'string' ? parse(value).format() : url.format(value, options));

module.exports = { ...url, parse, resolve, format };
