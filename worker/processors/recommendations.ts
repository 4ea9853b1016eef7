import { catalogChanged } from '../../shared/catalog/cache.js';
import { failRun, requestRebuild, runRebuild } from '../../shared/recommendations/rebuild.js';
import type { ProcessorDefinition } from '../context.js';

/**
 * `recommendations.rebuild`: from the admin endpoint (the run exists, its id in the payload) or the
 * nightly schedule (no id: the run is started or joined here once per job, remembered on the job so a
 * retry continues it). One at a time: the computation is a few large statements.
 */
export const recommendationsProcessor: ProcessorDefinition<'recommendations'> = {
  concurrency: 1,
  handlers: {
    'recommendations.rebuild': async (payload, ctx) => {
      let runId = payload.runId ?? (ctx.job.data as { runId?: string }).runId;
      if (!runId) {
        runId = (await requestRebuild(ctx.db, { trigger: payload.trigger, enqueueJob: false })).runId;
        await ctx.job.updateData({ ...ctx.job.data, runId });
      }
      try {
        const result = await runRebuild(ctx.db, runId, ctx.config.RECS_WINDOW_DAYS);
        // rec_current's trigger already NOTIFYs every API replica; this makes it synchronous for the next read.
        if (result.status === 'completed') await catalogChanged(ctx.redis, ctx.config.QUEUE_PREFIX);
        ctx.log.info({ runId, ...result }, 'recommendations rebuilt');
        return { runId, ...result };
      } catch (err) {
        if (ctx.job.attemptsMade + 1 >= (ctx.job.opts.attempts ?? 1))
          await failRun(ctx.db, runId, err instanceof Error ? err.message : String(err));
        throw err;
      }
    },
  },
};
