/* inetcomm.h - the library interface of the Example Mail Suite's shared
 * Internet communication module (modules/inetcomm.so). */
#ifndef EXAMPLES_INETCOMM_H
#define EXAMPLES_INETCOMM_H

/* Queue a message for sending; returns its length, or -1 for NULL. */
int inetcomm_send(const char *message);

#endif
