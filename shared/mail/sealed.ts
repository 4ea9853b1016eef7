/**
 * The key under which `enqueueMail` stores its sealed secret fields (render.ts opens them in the worker).
 * Its own module: the API queues mail but never renders it, so it must not load the templates to learn this.
 */
export const SEALED_KEY = '$sealed';
