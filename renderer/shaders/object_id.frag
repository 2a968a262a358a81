#version 330 core
// The id pass of renderer/draw.py: the object id in the red channel of an 8-bit
// colour buffer (id / 255 is stored as exactly id), no lighting.

flat in float frag_object_id;
out vec4 frag_color;

void main()
{
    frag_color = vec4(frag_object_id / 255.0, 0.0, 0.0, 1.0);
}
