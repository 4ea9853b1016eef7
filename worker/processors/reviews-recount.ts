import { recountRatings } from '../../shared/reviews/recount.js';
import type { ProcessorDefinition } from '../context.js';

/** `reviews.recount`: the nightly drift check of the rating counters; the run row says what it found. */
export const reviewsRecountProcessor: ProcessorDefinition<'reviews-recount'> = {
  concurrency: 1,
  handlers: {
    'reviews.recount': async (payload, ctx) => {
      const result = await recountRatings(ctx.db, payload.trigger);
      const summary = {
        runId: result.runId,
        productsChecked: result.productsChecked,
        drifted: result.drifted,
      };
      if (result.drifted > 0)
        ctx.log.warn(
          { ...summary, drift: result.drift.slice(0, 20) },
          'rating counters drifted from the published reviews; repaired',
        );
      else ctx.log.info(summary, 'rating counters match the published reviews (0 drift)');
      return summary;
    },
  },
};
