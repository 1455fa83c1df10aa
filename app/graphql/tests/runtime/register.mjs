// Import this before dynamically importing any resolver (see harness.mjs).
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
