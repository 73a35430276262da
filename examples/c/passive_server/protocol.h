/* The passive server's protocol: call labels and reply labels. */
#define ADD 1
#define MUL 2
#define OK 0
#define BAD_REQUEST 0xbad
