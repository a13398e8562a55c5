/* `paperq-producer harvest`: pages through the Internet Archive's scrape API
 * and writes the Internet Archive harvest format that `--input` reads
 * (docs/harvest.md). */
#ifndef PAPERQ_PRODUCER_HARVEST_H
#define PAPERQ_PRODUCER_HARVEST_H

/* argv[0] is "harvest". Returns the exit code: 0 the harvest is complete or
 * stopped at --limit with its cursor saved; 1 the service or the disk failed
 * (the cursor saved so far stays; run again to continue); 2 usage or
 * configuration error. */
int producer_harvest(int argc, char **argv);

#endif
