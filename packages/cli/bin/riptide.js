#!/usr/bin/env node
// A committed launcher, not a build output: npm links workspace bins before the root `prepare`
// script builds dist/, and it silently skips a bin whose file does not exist yet.
import '../dist/bin.js';
