// Azure Functions v4 programming model: the timer that runs snatguard (schedule from app setting SNATGUARD_SCHEDULE).
import { app } from '@azure/functions';
import { handler } from '../src/hosts/azure.js';

app.timer('snatguard-scan', {
  schedule: '%SNATGUARD_SCHEDULE%',
  handler,
});

// The host calls the registered handler; the export lets test/hosts/bundled.test.ts run the bundled one.
export { handler };
