/**
 * The NestJS gateway of nestjs-gateway.ts with the WsAdapter's `require('ws')` answered by riptide:
 * its createRequire is a CommonJS require, which ws-redirect.ts's hook sees although Nest is ESM.
 */
import { gatewaySuite } from './nestjs-gateway.js';
import { redirectWsFor } from './ws-redirect.js';

redirectWsFor(['@nestjs/platform-ws']);
gatewaySuite('riptide');
