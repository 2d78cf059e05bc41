/**
 * The NestJS gateway of nestjs-gateway.ts on the real ws, as its WsAdapter loads it: the results
 * nestjs-ws.test.ts must also give on riptide.
 */
import { gatewaySuite } from './nestjs-gateway.js';

gatewaySuite('ws');
